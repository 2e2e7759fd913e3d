"""Conductor Lambda: Conductor's workflow resource under /api (start, get, status, terminate, retry,
restart, search, token), on flowport's own use cases; 501 for the Conductor endpoints flowport lacks."""

from flowport.startup import init_phase

with init_phase():
    from flowport.api.apps import conductor_app
    from flowport.observability import api_handler

    app = conductor_app()
    lambda_handler = api_handler(app.resolve)
