"""DELETE /executions/{executionId}: cancel a queued or running execution."""

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
from flowport.core.models import CancelResult

router = Router()


@router.delete(
    "/executions/<executionId>",
    summary="Cancel an execution",
    description="A finished execution cannot be cancelled (409 `execution_not_cancellable`), nor one another "
    "cancel is stopping (409 `cancellation_in_progress`): both with `cancelled: false` and its status.",
    responses={
        200: {"description": "Cancelled", "content": {"application/json": {"model": CancelResult}}},
        **problem_responses(400, 401, 403, 404, 409, 503),
    },
    tags=["executions"],
    operation_id="cancelExecution",
    security=ANY_CREDENTIAL,
)
@takes_query()
def cancel_execution(execution_id: ExecutionIdPath, caller: CallerOf) -> Response[str]:
    result = services.cancel_execution().cancel(execution_id, caller)
    return json_response(result)
