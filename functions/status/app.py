"""Status Lambda (read-only): GET /executions/{executionId} and GET /openapi.json."""

from flowport.api.apps import status_app
from flowport.api.observability import api_handler

lambda_handler = api_handler(status_app().resolve)
