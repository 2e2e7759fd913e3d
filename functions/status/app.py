"""Status Lambda (read-only): execution status and search, the workflows, and GET /openapi.json."""

from flowport.startup import init_phase

with init_phase():
    from flowport.api.apps import status_app
    from flowport.observability import api_handler

    app = status_app()
    lambda_handler = api_handler(app.resolve)
