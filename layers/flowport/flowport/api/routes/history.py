"""GET /executions/{executionId}/history: one entry per state run, paginated, inputs and outputs on ask."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query

from flowport import services
from flowport.api.caller import CallerOf
from flowport.api.problems import problem_responses
from flowport.api.query import takes_query
from flowport.api.responses import json_response
from flowport.api.routes.params import ExecutionIdPath, NextToken
from flowport.api.security import ANY_CREDENTIAL
from flowport.core import history
from flowport.core.models import ExecutionHistory

router = Router()

Include = Annotated[
    Literal["io"] | None,
    Query(description="`io`: add each state's input and output (each dropped above 16 KiB, and flagged)"),
]
Limit = Annotated[
    int, Query(ge=1, le=history.MAX_PAGE_SIZE, description="Most entries in one page (1-100, default 50)")
]


@router.get(
    "/executions/<executionId>/history",
    summary="List an execution's state runs",
    description="Oldest first, one entry per state run (a state in a loop or a Map runs many times).",
    responses={
        200: {
            "description": "A page of state runs",
            "content": {"application/json": {"model": ExecutionHistory}},
        },
        **problem_responses(400, 401, 403, 404, 503),
    },
    tags=["executions"],
    operation_id="getExecutionHistory",
    security=ANY_CREDENTIAL,
)
@takes_query()
def get_execution_history(
    execution_id: ExecutionIdPath,
    caller: CallerOf,
    include: Include = None,
    limit: Limit = history.DEFAULT_PAGE_SIZE,
    next_token: NextToken = None,
) -> Response[str]:
    page = services.read_execution().history(
        execution_id, caller, include_io=include == "io", next_token=next_token, limit=limit
    )
    return json_response(page)
