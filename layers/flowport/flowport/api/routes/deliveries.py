"""GET /executions/{executionId}/deliveries: its callback's messages and their attempts."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from flowport import services
from flowport.api.caller import CallerOf
from flowport.api.problems import problem_responses
from flowport.api.query import takes_query
from flowport.api.responses import json_response
from flowport.api.routes.params import ExecutionIdPath
from flowport.api.security import ANY_CREDENTIAL
from flowport.core.models import DeliveryList

router = Router()


@router.get(
    "/executions/<executionId>/deliveries",
    summary="List an execution's webhook deliveries",
    description="Each message sent to its callback (one per end it asked for), oldest first, with every "
    "attempt: when, the receiver's status, the latency, and when the next attempt is due. Never a body, "
    "never a secret.",
    responses={
        200: {"description": "Its deliveries", "content": {"application/json": {"model": DeliveryList}}},
        **problem_responses(400, 401, 403, 404, 503),
    },
    tags=["executions"],
    operation_id="listDeliveries",
    security=ANY_CREDENTIAL,
)
@takes_query()
def list_deliveries(execution_id: ExecutionIdPath, caller: CallerOf) -> Response[str]:
    return json_response(services.list_deliveries().deliveries(execution_id, caller))
