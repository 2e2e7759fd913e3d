"""Status Lambda (read-only): GET /executions/{executionId} and GET /openapi.json."""

from flowport.api.apps import status_app
from flowport.observability import api_handler

app = status_app()
lambda_handler = api_handler(app.resolve)
