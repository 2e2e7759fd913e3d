"""Console Lambda: the web console's static files (its assets/), under /console."""

from flowport.startup import init_phase

with init_phase():
    from flowport.api.apps import console_app
    from flowport.observability import api_handler

    app = console_app()
    lambda_handler = api_handler(app.resolve)
