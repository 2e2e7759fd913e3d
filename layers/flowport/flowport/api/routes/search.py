"""GET /executions: search executions, newest first, a page at a time, served by DynamoDB indexes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.request import Request
from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from flowport import services
from flowport.api.caller import CallerOf
from flowport.api.paths import with_links
from flowport.api.problems import problem_responses
from flowport.api.query import takes_query
from flowport.api.responses import json_response
from flowport.api.routes.params import NextToken
from flowport.api.security import ANY_CREDENTIAL
from flowport.core import search
from flowport.core.models import ExecutionPage, ExecutionStatus
from flowport.usecases.search import SearchRequest

router = Router()

Workflow = Annotated[str | None, Query(min_length=1, max_length=63, description="Only this workflow's")]
Status = Annotated[ExecutionStatus | None, Query(description="Only executions with this status")]
CorrelationId = Annotated[
    str | None,
    Query(alias="correlationId", min_length=1, max_length=128, description="Only those started with this id"),
]
StartedBy = Annotated[
    str | None,
    Query(alias="startedBy", min_length=1, max_length=64, description="Only those this principal id started"),
]


def _reader(end_of_day: bool) -> Callable[[Any], datetime]:
    """A since/until value, read by flowport.core.search.instant: its message is the whole error."""

    def read(value: Any) -> datetime:
        try:
            return search.instant(str(value), end_of_day=end_of_day)
        except ValueError as error:
            raise PydanticCustomError("instant", str(error)) from None

    return read


_INSTANT_SCHEMA = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]}
SinceInstant = Annotated[datetime, PlainValidator(_reader(end_of_day=False)), WithJsonSchema(_INSTANT_SCHEMA)]
UntilInstant = Annotated[datetime, PlainValidator(_reader(end_of_day=True)), WithJsonSchema(_INSTANT_SCHEMA)]
_INSTANT = "ISO 8601 date-time with Z or an offset (send + as %2B), or a date: a UTC day"
Since = Annotated[
    SinceInstant | None,
    Query(description=f"Created at or after: {_INSTANT}, from its midnight"),
]
Until = Annotated[
    UntilInstant | None,
    Query(description=f"Created at or before: {_INSTANT}, to its end"),
]
Limit = Annotated[
    int, Query(ge=1, le=search.MAX_LIMIT, description=f"Most executions per page (1-{search.MAX_LIMIT})")
]


@router.get(
    "/executions",
    summary="Search executions",
    description="Newest first, only the executions the caller may read. Filters combine: `workflow`, "
    "`status`, `correlationId`, `startedBy` (a principal id), `since`/`until` "
    "(inclusive), and one `input.<field>=<value>` among the fields the workflow declares in "
    "`searchableInputFields` (needs `workflow`; the value matches a string as is, a number or boolean by "
    'its JSON text: `input.customerId=42` finds `42` and `"42"`). A page may hold fewer than `limit` '
    "executions, even none, while `nextToken` is present: keep going until it is absent. Statuses are as "
    "recorded, which follows Step Functions within seconds; GET an execution for its live state.",
    responses={
        200: {
            "description": "A page of executions",
            "content": {"application/json": {"model": ExecutionPage}},
        },
        **problem_responses(400, 401, 403, 404, 503),
    },
    tags=["executions"],
    operation_id="searchExecutions",
    security=ANY_CREDENTIAL,
)
@takes_query(more=search.INPUT_PREFIX)
def search_executions(
    request: Request,
    caller: CallerOf,
    workflow: Workflow = None,
    status: Status = None,
    correlation_id: CorrelationId = None,
    started_by: StartedBy = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = search.DEFAULT_LIMIT,
    next_token: NextToken = None,
) -> Response[str]:
    page = services.search_executions().search(
        SearchRequest(
            workflow=workflow,
            status=status,
            correlation_id=correlation_id,
            since=since,
            until=until,
            inputs=search.input_values(request.query_parameters or {}),
            limit=limit,
            next_token=next_token,
            started_by=started_by,
        ),
        caller,
    )
    page = page.model_copy(update={"items": [with_links(item, request) for item in page.items]})
    return json_response(page)
