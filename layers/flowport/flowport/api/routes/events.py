"""GET /executions/{executionId}/events: the execution's live events as Server-Sent Events.

A Lambda behind API Gateway answers with one whole response, so a response carries the events found
within `stream_max_seconds` and ends with a `retry:` hint; EventSource reconnects with `Last-Event-ID`
and the stream goes on from there. After the final event the next request gets 204, which tells
EventSource to stop. The local server relays those responses over one open connection.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query

from flowport import services
from flowport.api.caller import CallerOf
from flowport.api.problems import problem_responses
from flowport.api.query import takes_query
from flowport.api.routes.params import ExecutionIdPath
from flowport.api.security import ANY_CREDENTIAL
from flowport.core import stream
from flowport.core.errors import ServiceUnavailable
from flowport.settings import get_settings

router = Router()
EVENT_STREAM = "text/event-stream"
# The last look starts before the function's time runs out by this much: a look reads the whole history.
LAST_LOOK_SECONDS = 3.0
BUSY_RETRY_FACTOR = 5

LastEventIdHeader = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        max_length=stream.MAX_EVENT_ID_LENGTH,
        description="The id of the last event received; the stream resumes after it",
    ),
]
LastEventIdQuery = Annotated[
    str | None,
    Query(
        alias="lastEventId",
        max_length=stream.MAX_EVENT_ID_LENGTH,
        description="The same, for clients that cannot set headers; the header wins",
    ),
]

# OpenAPI 3.1 has no word for a stream's items: tools (schemathesis among them) read the `schema` of a
# text/event-stream response as that of each event, parsed into its fields.
_EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "event": {
            "enum": [
                "node_started",
                "node_completed",
                "node_failed",
                *stream.SNAPSHOTS,
                *stream.FINAL_EVENTS.values(),
            ]
        },
        "id": {"type": "string", "maxLength": stream.MAX_EVENT_ID_LENGTH},
        "data": {"type": "string", "description": "A JSON document"},
        "retry": {"type": "integer", "minimum": 0},
    },
}


@router.get(
    "/executions/<executionId>/events",
    summary="Stream an execution's events",
    description=(
        "Server-Sent Events: `status`, `progress`, `variables`, `node_started`, `node_completed`, "
        "`node_failed`, then one of `completed`, `failed`, `timed_out` or `cancelled` with the status "
        "document. Each response ends with a `retry:` hint; reconnect with `Last-Event-ID`."
    ),
    responses={
        200: {
            "description": "Events after Last-Event-ID",
            "content": {EVENT_STREAM: {"schema": _EVENT_SCHEMA}},
        },
        204: {"description": "The final event was already sent: stop reconnecting"},
        **problem_responses(400, 401, 403, 404, 503),
    },
    tags=["executions"],
    operation_id="streamExecutionEvents",
    security=ANY_CREDENTIAL,
)
@takes_query()
def stream_execution_events(
    execution_id: ExecutionIdPath,
    caller: CallerOf,
    last_event_id: LastEventIdHeader = None,
    last_event_id_query: LastEventIdQuery = None,
) -> Response[str]:
    settings = get_settings()
    ids = stream.EventIds(settings.token_secret, execution_id)
    cursor = ids.parse(last_event_id or last_event_id_query)
    if cursor.final:
        return Response(status_code=204, body="")
    reader = services.read_execution()
    try:
        events = stream.wait_for_events(
            lambda at: reader.events(execution_id, caller, at),
            cursor,
            ids,
            max_seconds=min(settings.stream_max_seconds, _seconds_left() - LAST_LOOK_SECONDS),
            poll_seconds=settings.stream_poll_seconds,
        )
    except ServiceUnavailable:
        # EventSource gives up for good on any answer but 200 or 204: a throttled look is "nothing new,
        # come back a little later", not an error.
        events, retry_ms = [], settings.stream_retry_ms * BUSY_RETRY_FACTOR
    else:
        retry_ms = settings.stream_retry_ms
    return Response(
        status_code=200,
        content_type=EVENT_STREAM,
        body=stream.render(events, retry_ms),
        # Proxies must pass each response on as it comes, and never serve a stale one.
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _seconds_left() -> float:
    """The function's remaining time: a response that outlives it is lost, and EventSource stops."""
    context = router.lambda_context
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() / 1000 if remaining is not None else float("inf")
