"""Cancel Lambda: DELETE /executions/{executionId}. Apart from status so that status stays read-only."""

from flowport.startup import init_phase

with init_phase():
    from flowport.api.apps import cancel_app
    from flowport.observability import api_handler

    app = cancel_app()
    lambda_handler = api_handler(app.resolve)
