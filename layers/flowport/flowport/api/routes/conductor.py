"""Conductor's workflow resource under /api, so that Conductor's clients (its Python SDK among them) drive
flowport: each route is flowport's own use case (start, read, history, cancel, retry, rerun, search) with
Conductor's names and documents (flowport.core.conductor). Errors: flowport.api.conductor.

API Gateway needs the one variable under /api/workflow to have one name on every method, so the start by
name (POST /api/workflow/{name} in Conductor) takes it as `workflowId` too: there it is a workflow's name.

A query parameter the SDK sends that flowport has no use for (summarize, reason, ...) is declared, so that
the query check takes it, and left unused (`noqa: ARG001`): the routes' descriptions say so.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.request import Request

from flowport import services
from flowport.api.caller import CallerOf
from flowport.api.problems import problem_responses
from flowport.api.query import takes_query
from flowport.api.responses import json_response
from flowport.api.routes.start import request_body
from flowport.api.security import ANY_CREDENTIAL
from flowport.core import conductor, credentials, inputs
from flowport.core.errors import Unauthorized
from flowport.core.history import MAX_PAGE_SIZE
from flowport.core.identity import Caller
from flowport.core.models import ExecutionSource, ExecutionStatus, ExecutionSummary, NodeEntry
from flowport.core.search import MAX_LIMIT
from flowport.usecases.retry import LATEST, RerunCommand, RetryCommand
from flowport.usecases.search import SearchRequest
from flowport.usecases.start import StartCommand, Started

router = Router()
TAG = ["conductor"]
TEXT = "text/plain"

WorkflowIdPath = Annotated[
    str,
    Path(
        alias="workflowId",
        min_length=1,
        max_length=80,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The workflow (execution) id; for the start by name, the workflow's name",
    ),
]
Flag = Annotated[bool | None, Query(description="Conductor's flag; see the description")]
OptionalText = Annotated[str | None, Query(max_length=1024)]
Start = Annotated[int, Query(ge=0, le=conductor.MAX_HITS, description="Hits to skip")]
Size = Annotated[int, Query(ge=1, le=conductor.MAX_HITS, description="Most hits to return")]


def _responses(ok: int, description: str, model: type | None = None) -> dict[int, Any]:
    content = {"application/json": {"model": model}} if model else {TEXT: {"schema": {"type": "string"}}}
    error_content: dict[str, Any] = {"application/json": {"model": conductor.ConductorError}}
    error = {"description": "Conductor's error document", "content": error_content}
    answers: dict[int, Any] = {ok: {"description": description, "content": content}}
    answers.update(dict.fromkeys((400, 404, 409, 422, 501, 503), error))
    # A missing credential or a route the caller's scopes do not allow is API Gateway's own answer
    # (template.yaml GatewayResponses), a problem document as on every other route; what the function
    # itself refuses (a workflow's scope or kind of credential) is Conductor's document.
    for status, entry in problem_responses(401, 403).items():
        answers[status] = {**entry, "content": {**entry.get("content", {}), **error_content}}
    return answers


def _token_responses() -> dict[int, Any]:
    """The token exchange has no credential for API Gateway to refuse: its 401 (a keySecret that is not
    a flowport API key) is the function's own, Conductor's document."""
    answers = _responses(200, "The token", conductor.TokenResponse)
    del answers[403]
    answers[401] = {**answers[400], "description": "keySecret is not a flowport API key"}
    return answers


def _text(value: str, status: int = 200) -> Response[str]:
    return Response(status_code=status, content_type=TEXT, body=value)


def _no_content() -> Response[str]:
    return Response(status_code=204, body="")


def _start(command: StartCommand) -> Response[str]:
    started: Started = services.start_execution().start(command)
    # Conductor answers a start with the bare id, a replay (RETURN_EXISTING) with the existing one's.
    return _text(started.execution.execution_id)


@router.post(
    "/api/token",
    summary="Exchange an API key for a token (Conductor's /token)",
    description="`keySecret` is a flowport API key (fpk_...); the token is that same key, which every "
    "later call sends as `X-Authorization` and the authorizer checks there as any credential. `keyId` is "
    "not checked: flowport finds a key by its secret alone.",
    responses=_token_responses(),
    tags=TAG,
    operation_id="conductorToken",
)
@takes_query()
def token(body: Annotated[conductor.TokenRequest, Body()]) -> Response[str]:
    if not credentials.looks_like_a_key(body.key_secret):
        raise Unauthorized("keySecret must be a flowport API key (fpk_...)")
    return json_response(conductor.TokenResponse(token=body.key_secret))


@router.post(
    "/api/workflow",
    summary="Start a workflow (Conductor's StartWorkflowRequest)",
    description="`idempotencyKey` and `idempotencyStrategy` (FAIL, the default, RETURN_EXISTING or "
    "FAIL_ON_RUNNING) are flowport's Idempotency-Key and X-On-Conflict. Answers the workflow id.",
    responses=_responses(200, "The new workflow id (or, replayed, the existing one)"),
    tags=TAG,
    security=ANY_CREDENTIAL,
    operation_id="conductorStartWorkflow",
)
@takes_query()
def start_workflow(
    body: Annotated[conductor.StartWorkflowRequest, Body()], caller: CallerOf
) -> Response[str]:
    strategy = conductor.idempotency_strategy(body.idempotency_key, body.idempotency_strategy)
    return _start(
        StartCommand(
            workflow=body.name,
            version=body.version,
            input=inputs.ensure_input_size(body.input),
            source=ExecutionSource.HTTP_POST,
            caller=caller,
            correlation_id=body.correlation_id,
            priority=body.priority,
            idempotency_key=body.idempotency_key,
            on_conflict=strategy,
        )
    )


@router.get(
    "/api/workflow/search",
    summary="Search workflows (Conductor's search)",
    description="`query` takes `workflowType`, `status` (Conductor's names) and `correlationId`, each "
    "as `field = value` or `field IN (a,b)`, joined by AND; `freeText` only `*`; `sort` startTime:DESC "
    f"(default) or startTime:ASC. Counts and pages over the first {conductor.MAX_HITS} hits.",
    responses=_responses(200, "The hits", conductor.ConductorSearchResult),
    tags=TAG,
    security=ANY_CREDENTIAL,
    operation_id="conductorSearch",
)
@takes_query()
def search_workflows(
    caller: CallerOf,
    start: Start = 0,
    size: Size = 100,
    sort: OptionalText = None,
    free_text: Annotated[str | None, Query(alias="freeText", max_length=1024)] = None,
    query: OptionalText = None,
    # The SDK sends these (empty when unset); flowport's search has no cache and no scroll to resume.
    query_id: Annotated[str | None, Query(alias="queryId", max_length=1024)] = None,  # noqa: ARG001
    skip_cache: Annotated[str | None, Query(alias="skipCache", max_length=8)] = None,  # noqa: ARG001
) -> Response[str]:
    parsed = conductor.parse_query(query, free_text)
    newest_first = conductor.newest_first(sort)
    hits = _search(parsed, caller)
    page = conductor.hits_page(hits, start=start, size=size, newest_first=newest_first)
    return json_response(page)


def _search(parsed: conductor.SearchQuery, caller: Caller) -> list[ExecutionSummary]:
    """flowport's search once per combination of the query's alternatives (its filters take one value
    each), up to MAX_HITS executions in all."""
    searcher = services.search_executions()
    statuses: tuple[ExecutionStatus | None, ...] = parsed.statuses if parsed.statuses is not None else (None,)
    found: list[ExecutionSummary] = []
    for workflow, status, correlation_id in itertools.product(
        parsed.workflow_types or (None,), statuses, parsed.correlation_ids or (None,)
    ):
        next_token: str | None = None
        while len(found) < conductor.MAX_HITS:
            page = searcher.search(
                SearchRequest(
                    workflow=workflow,
                    status=status,
                    correlation_id=correlation_id,
                    limit=MAX_LIMIT,
                    next_token=next_token,
                ),
                caller,
            )
            found += page.items
            next_token = page.next_token
            if next_token is None:
                break
    return found


@router.post(
    "/api/workflow/<workflowId>",
    summary="Start a workflow by name (Conductor's start with the input as body)",
    description="The body is the input; `version`, `correlationId` and `priority` as for a start. "
    "Answers the workflow id.",
    responses=_responses(200, "The new workflow id"),
    tags=TAG,
    security=ANY_CREDENTIAL,
    operation_id="conductorStartWorkflowByName",
)
@takes_query()
def start_workflow_by_name(
    name: WorkflowIdPath,
    request: Request,
    caller: CallerOf,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
    correlation_id: Annotated[str | None, Query(alias="correlationId", min_length=1, max_length=128)] = None,
    priority: Annotated[int | None, Query(ge=0, le=99)] = None,
) -> Response[str]:
    workflow = services.start_execution().workflow_to_start(name, caller)
    workflow_input = inputs.input_from_body(
        workflow, request_body(request), request.headers.get("content-type")
    )
    return _start(
        StartCommand(
            workflow=name,
            version=version,
            input=workflow_input,
            source=ExecutionSource.HTTP_POST,
            caller=caller,
            correlation_id=correlation_id,
            priority=priority or 0,
        )
    )


@router.get(
    "/api/workflow/<workflowId>",
    summary="Get a workflow (Conductor's Workflow), with its tasks",
    description="`tasks` are the execution's state runs (its history), unless includeTasks=false.",
    responses=_responses(200, "The workflow", conductor.ConductorWorkflow),
    tags=TAG,
    security=ANY_CREDENTIAL,
    operation_id="conductorGetWorkflow",
)
@takes_query()
def get_workflow(
    workflow_id: WorkflowIdPath,
    caller: CallerOf,
    include_tasks: Annotated[bool, Query(alias="includeTasks")] = True,
    summarize: Flag = None,  # noqa: ARG001
) -> Response[str]:
    reader = services.read_execution()
    detail = reader.status(workflow_id, caller)
    runs = _all_runs(workflow_id, caller) if include_tasks else []
    return json_response(conductor.workflow_of(detail, runs))


def _all_runs(execution_id: str, caller: Caller) -> list[NodeEntry]:
    reader = services.read_execution()
    runs: list[NodeEntry] = []
    next_token: str | None = None
    while True:
        page = reader.history(
            execution_id, caller, include_io=True, next_token=next_token, limit=MAX_PAGE_SIZE
        )
        runs += page.items
        next_token = page.next_token
        if next_token is None:
            return runs


@router.get(
    "/api/workflow/<workflowId>/status",
    summary="Get a workflow's status (Conductor's WorkflowStatus)",
    responses=_responses(200, "The status", conductor.ConductorWorkflowStatus),
    tags=TAG,
    security=ANY_CREDENTIAL,
    operation_id="conductorGetWorkflowStatus",
)
@takes_query()
def get_workflow_status(
    workflow_id: WorkflowIdPath,
    caller: CallerOf,
    include_output: Annotated[bool | None, Query(alias="includeOutput")] = None,
    include_variables: Annotated[bool | None, Query(alias="includeVariables")] = None,
) -> Response[str]:
    status = conductor.status_of(services.read_execution().status(workflow_id, caller))
    if include_output is False:
        status = status.model_copy(update={"output": {}})
    if include_variables is False:
        status = status.model_copy(update={"variables": {}})
    return json_response(status)


@router.delete(
    "/api/workflow/<workflowId>",
    summary="Terminate a workflow (flowport's cancel)",
    description="`reason` is accepted and not kept: flowport records a cancellation as CANCELLED "
    "(TERMINATED here). A finished workflow is a 409.",
    responses=_responses(204, "Terminated"),
    tags=TAG,
    security=ANY_CREDENTIAL,
    operation_id="conductorTerminateWorkflow",
)
@takes_query()
def terminate_workflow(
    workflow_id: WorkflowIdPath,
    caller: CallerOf,
    reason: OptionalText = None,  # noqa: ARG001
    trigger_failure_workflow: Annotated[bool | None, Query(alias="triggerFailureWorkflow")] = None,  # noqa: ARG001
) -> Response[str]:
    services.cancel_execution().cancel(workflow_id, caller)
    return _no_content()


@router.post(
    "/api/workflow/<workflowId>/retry",
    summary="Retry a failed workflow from where it failed (flowport's retry)",
    description="The same workflow id runs again from the state it failed in (Step Functions' redrive).",
    responses=_responses(204, "Retried"),
    tags=TAG,
    security=ANY_CREDENTIAL,
    operation_id="conductorRetryWorkflow",
)
@takes_query()
def retry_workflow(
    workflow_id: WorkflowIdPath,
    caller: CallerOf,
    resume_subworkflow_tasks: Annotated[bool | None, Query(alias="resumeSubworkflowTasks")] = None,  # noqa: ARG001
    retry_if_retried_by_parent: Annotated[bool | None, Query(alias="retryIfRetriedByParent")] = None,  # noqa: ARG001
) -> Response[str]:
    services.retry_execution().retry(RetryCommand(workflow_id, caller))
    return _no_content()


@router.post(
    "/api/workflow/<workflowId>/restart",
    summary="Restart a workflow from the beginning (flowport's rerun: a new workflow id)",
    description="Step Functions does not run an execution twice from its start, so the restart is a new "
    "execution of the same input, correlationId and priority, whose reRunFromWorkflowId names this one; "
    "its id is the answer's body. useLatestDefinitions=true runs the latest version.",
    responses=_responses(200, "The new workflow id"),
    tags=TAG,
    security=ANY_CREDENTIAL,
    operation_id="conductorRestartWorkflow",
)
@takes_query()
def restart_workflow(
    workflow_id: WorkflowIdPath,
    caller: CallerOf,
    use_latest_definitions: Annotated[bool | None, Query(alias="useLatestDefinitions")] = None,
) -> Response[str]:
    version: Literal["latest"] | None = LATEST if use_latest_definitions else None
    started = services.rerun_execution().rerun(RerunCommand(workflow_id, caller, version))
    return _text(started.execution.execution_id)
