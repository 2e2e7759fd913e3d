"""Start routes: POST /workflows/{name}/executions, and GET /workflows/{name}/start for opted-in workflows."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from aws_lambda_powertools.event_handler.request import Request
from pydantic import BeforeValidator, StringConstraints

from flowport import services
from flowport.api import negotiation
from flowport.api.caller import CallerOf
from flowport.api.paths import api_base, with_links
from flowport.api.problems import problem_responses
from flowport.api.query import takes_query
from flowport.api.responses import json_body
from flowport.api.routes.params import Version, WorkflowName
from flowport.api.security import ANY_CREDENTIAL, START_AUTH_NOTE
from flowport.core import idempotency, inputs
from flowport.core.errors import BadRequest, InvalidParameter, MethodNotAllowed
from flowport.core.identity import Caller
from flowport.core.models import CallbackEvent, ConflictStrategy, ExecutionSource, ExecutionSummary
from flowport.core.query import ANY_NAME
from flowport.usecases.start import StartCommand, Started

router = Router()

CorrelationId = Annotated[
    str | None,
    Query(alias="correlationId", min_length=1, max_length=128, description="Your id, to find executions by"),
]
Priority = Annotated[int, Query(ge=0, le=99, description="0-99, stored with the execution")]
CallbackUrl = Annotated[
    str | None,
    Query(
        alias="callbackUrl",
        min_length=1,
        max_length=2048,
        description="https URL to POST the end to, signed as Standard Webhooks (README: Webhooks)",
    ),
]
CallbackEvents = Annotated[
    str | None,
    Query(
        alias="callbackEvents",
        min_length=1,
        max_length=100,
        description="Comma-separated: completed, failed, timed_out, cancelled, running, queued (default: "
        "the four ends)",
    ),
]


def _without_surrounding_whitespace(raw: object) -> object:
    """RFC 9110 §5.5: the whitespace around a field value is not part of it. So `k`, `k ` and ` k` are one
    key, everywhere it is read, and a key of only whitespace is an empty one."""
    return raw.strip(" \t") if isinstance(raw, str) else raw


# The constraints come first so that they check the trimmed value: pydantic applies them to the string
# itself, and the trim runs before it (an empty value is then reported as empty, as an unset one is).
Key = Annotated[
    str,
    StringConstraints(min_length=1, max_length=idempotency.MAX_KEY_LENGTH, pattern=r"^[\x20-\x7E]+$"),
    BeforeValidator(_without_surrounding_whitespace),
]
IdempotencyKey = Annotated[
    Key | None,
    Header(
        alias="Idempotency-Key",
        description="Makes retries safe: the same key and request start at most one execution. "
        "1-255 printable ASCII characters; whitespace around it is not part of it",
    ),
]
LegacyIdempotencyKey = Annotated[Key | None, Header(alias="X-Idempotency-Key", description="Alias")]
OnConflict = Annotated[
    ConflictStrategy | None,
    Header(alias="X-On-Conflict", description="Required with an idempotency key: what to do if it was seen"),
]
Accept = Annotated[str | None, Header(alias="Accept", max_length=1024, description="text/plain: the bare id")]

_RESPONSES = {
    202: {
        "description": "Execution accepted; `Location` names its status",
        "content": {
            "application/json": {"model": ExecutionSummary},
            "text/plain": {"schema": {"type": "string"}},
        },
    },
    200: {
        "description": "Replay (RETURN_EXISTING): the existing execution, with `Idempotent-Replayed: true`",
        "content": {
            "application/json": {"model": ExecutionSummary},
            "text/plain": {"schema": {"type": "string"}},
        },
    },
    **problem_responses(400, 401, 403, 404, 406, 409, 413, 415, 422, 503),
}
# Only a workflow that opted in with startByGet may be started by GET; the others answer 405.
_GET_RESPONSES = {**_RESPONSES, **problem_responses(405)}


@dataclass(frozen=True)
class StartOptions:
    """The query and header values both start routes take."""

    version: int | None
    correlation_id: str | None
    priority: int
    idempotency_key: str | None
    legacy_idempotency_key: str | None
    on_conflict: ConflictStrategy | None
    accept: str | None
    callback_url: str | None = None
    callback_events: str | None = None


def key_and_strategy(
    key: str | None, legacy_key: str | None, on_conflict: ConflictStrategy | None
) -> tuple[str | None, ConflictStrategy | None]:
    if key and legacy_key and key != legacy_key:
        raise BadRequest("Idempotency-Key and X-Idempotency-Key differ; send one of them")
    key = key or legacy_key
    if key is not None and on_conflict is None:
        raise BadRequest("X-On-Conflict (RETURN_EXISTING, FAIL or FAIL_ON_RUNNING) is required with a key")
    if key is None and on_conflict is not None:
        # curl's -H 'Idempotency-Key:' removes the header rather than sending it empty: say none arrived.
        raise BadRequest(
            "X-On-Conflict applies only with an idempotency key, and no Idempotency-Key (or "
            "X-Idempotency-Key) header arrived: curl -H 'Idempotency-Key:' removes the header"
        )
    return key, on_conflict


def events_wanted(text: str | None) -> tuple[CallbackEvent, ...] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in CallbackEvent.__members__.values()]
    if unknown or not names:
        raise InvalidParameter(
            f"callbackEvents: {', '.join(unknown) or 'none named'}; name some of " + ", ".join(CallbackEvent),
        )
    return tuple(dict.fromkeys(CallbackEvent(name) for name in names))


def links_base(request: Request) -> str:
    """The API's URL as the client reached it, for the links a callback's payload carries."""
    headers = request.headers
    # API Gateway always names the scheme (https); only the local gateway, plain http, does not.
    scheme = headers.get("x-forwarded-proto") or "http"
    return f"{scheme}://{headers.get('host', '')}{api_base(request)}" if headers.get("host") else ""


def request_body(request: Request) -> bytes:
    body = request.body or ""
    if request.resolved_event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            raise BadRequest("The request body is not valid base64") from None
    return body.encode("utf-8", errors="surrogateescape")


def answer_started(started: Started, request: Request, accept: str | None) -> Response[str]:
    """202 with the execution (or its bare id), `Location` naming it; 200 `Idempotent-Replayed` for a
    replay. Retry and rerun answer so too (flowport.api.routes.retry)."""
    representation = negotiation.choose_start_representation(accept)
    execution = with_links(started.execution, request)
    headers = {"Location": execution.links.self_}
    if started.replayed:
        headers["Idempotent-Replayed"] = "true"
    body = execution.execution_id if representation == negotiation.TEXT else json_body(execution)
    return Response(
        status_code=200 if started.replayed else 202, content_type=representation, body=body, headers=headers
    )


def _start(
    request: Request,
    name: str,
    source: ExecutionSource,
    options: StartOptions,
    caller: Caller,
) -> Response[str]:
    starter = services.start_execution()
    workflow = starter.workflow_to_start(name, caller)
    negotiation.choose_start_representation(options.accept)  # refuse before starting anything
    key, strategy = key_and_strategy(
        options.idempotency_key, options.legacy_idempotency_key, options.on_conflict
    )
    if source is ExecutionSource.HTTP_GET:
        if not workflow.start_by_get:
            # This workflow's /start has no method at all (RFC 9110's empty Allow): its POST is elsewhere.
            raise MethodNotAllowed(
                f"Workflow '{name}' is not started by GET (no startByGet): POST /workflows/{name}/executions",
                allow=(),
            )
        workflow_input = inputs.input_from_query(workflow, request.query_parameters or {})
    else:
        workflow_input = inputs.input_from_body(
            workflow, request_body(request), request.headers.get("content-type")
        )
    command = StartCommand(
        workflow=name,
        version=options.version,
        input=workflow_input,
        source=source,
        caller=caller,
        correlation_id=options.correlation_id,
        priority=options.priority,
        idempotency_key=key,
        on_conflict=strategy,
        callback_url=options.callback_url,
        callback_events=events_wanted(options.callback_events),
        links_base=links_base(request),
    )
    return answer_started(starter.start(command), request, options.accept)


@router.post(
    "/workflows/<name>/executions",
    summary="Start an execution",
    description="The body is the workflow's input (a JSON object), or, for a workflow with a content "
    "variable, any text placed under that variable." + START_AUTH_NOTE,
    responses=_RESPONSES,  # type: ignore[arg-type]
    tags=["executions"],
    operation_id="startExecution",
    security=ANY_CREDENTIAL,
)
@takes_query()
def start_execution(
    name: WorkflowName,
    request: Request,
    caller: CallerOf,
    version: Version = None,
    correlation_id: CorrelationId = None,
    priority: Priority = 0,
    idempotency_key: IdempotencyKey = None,
    legacy_idempotency_key: LegacyIdempotencyKey = None,
    on_conflict: OnConflict = None,
    accept: Accept = None,
    callback_url: CallbackUrl = None,
    callback_events: CallbackEvents = None,
) -> Response[str]:
    options = StartOptions(
        version,
        correlation_id,
        priority,
        idempotency_key,
        legacy_idempotency_key,
        on_conflict,
        accept,
        callback_url,
        callback_events,
    )
    return _start(request, name, ExecutionSource.HTTP_POST, options, caller)


@router.get(
    "/workflows/<name>/start",
    summary="Start an execution by GET (workflows that opt in with startByGet)",
    description="Query parameters other than version, correlationId and priority become the input, typed "
    "by the workflow's input schema." + START_AUTH_NOTE,
    responses=_GET_RESPONSES,  # type: ignore[arg-type]
    tags=["executions"],
    operation_id="startExecutionByGet",
    security=ANY_CREDENTIAL,
)
@takes_query(more=ANY_NAME)  # every other name is an input field
def start_execution_by_get(
    name: WorkflowName,
    request: Request,
    caller: CallerOf,
    version: Version = None,
    correlation_id: CorrelationId = None,
    priority: Priority = 0,
    idempotency_key: IdempotencyKey = None,
    legacy_idempotency_key: LegacyIdempotencyKey = None,
    on_conflict: OnConflict = None,
    accept: Accept = None,
) -> Response[str]:
    options = StartOptions(
        version, correlation_id, priority, idempotency_key, legacy_idempotency_key, on_conflict, accept
    )
    return _start(request, name, ExecutionSource.HTTP_GET, options, caller)
