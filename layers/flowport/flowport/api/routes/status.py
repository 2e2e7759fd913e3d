"""GET /executions/{executionId}: an execution's status, result or error, and status variables."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.request import Request

from flowport import services
from flowport.api.caller import CallerOf
from flowport.api.paths import with_links
from flowport.api.problems import problem_responses
from flowport.api.query import takes_query
from flowport.api.responses import json_response
from flowport.api.routes.params import ExecutionIdPath
from flowport.api.security import ANY_CREDENTIAL
from flowport.core.models import ExecutionDetail

router = Router()


@router.get(
    "/executions/<executionId>",
    summary="Get an execution's status",
    responses={
        200: {"description": "The execution", "content": {"application/json": {"model": ExecutionDetail}}},
        **problem_responses(400, 401, 403, 404, 503),
    },
    tags=["executions"],
    operation_id="getExecution",
    security=ANY_CREDENTIAL,
)
@takes_query()
def get_execution(execution_id: ExecutionIdPath, request: Request, caller: CallerOf) -> Response[str]:
    detail = with_links(services.read_execution().status(execution_id, caller), request)
    return json_response(detail)
