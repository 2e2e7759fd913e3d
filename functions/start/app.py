"""Start Lambda: POST /workflows/{name}/executions, GET /workflows/{name}/start, and POST
/executions/{executionId}/retry and /rerun (which start executions again)."""

from flowport.startup import init_phase

with init_phase():
    from flowport.api.apps import start_app
    from flowport.observability import api_handler

    app = start_app()
    lambda_handler = api_handler(app.resolve)
