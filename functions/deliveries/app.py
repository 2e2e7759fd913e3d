"""Deliveries Lambda (read-only): GET /executions/{executionId}/deliveries, a callback's attempts.

Apart from the deliver function, which alone may reach the internet's receivers and read the secrets."""

from flowport.startup import init_phase

with init_phase():
    from flowport.api.apps import deliveries_app
    from flowport.observability import api_handler

    app = deliveries_app()
    lambda_handler = api_handler(app.resolve)
