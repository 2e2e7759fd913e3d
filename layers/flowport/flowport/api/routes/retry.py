"""POST /executions/{executionId}/retry and /rerun: run a failed execution again from where it failed, or
run any execution again as a new one (flowport.usecases.retry). In the start function: both may start
what a start may, and they answer as a start does."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.request import Request
from pydantic import Field

from flowport import services
from flowport.api import negotiation
from flowport.api.caller import CallerOf
from flowport.api.problems import problem_responses
from flowport.api.query import takes_query
from flowport.api.routes.params import ExecutionIdPath
from flowport.api.routes.start import (
    Accept,
    IdempotencyKey,
    LegacyIdempotencyKey,
    OnConflict,
    answer_started,
    key_and_strategy,
)
from flowport.api.security import ANY_CREDENTIAL
from flowport.core.models import ExecutionSummary
from flowport.usecases.retry import RerunCommand, RetryCommand

router = Router()

RerunVersion = Annotated[
    Annotated[int, Field(ge=1, le=1_000_000)] | Literal["latest"] | None,
    Query(description="The workflow version to run (`latest` for the newest); the execution's own if absent"),
]


def _responses(accepted: str) -> dict[int, Any]:
    summary = {"application/json": {"model": ExecutionSummary}, "text/plain": {"schema": {"type": "string"}}}
    return {
        202: {"description": accepted, "content": summary},
        200: {
            "description": "Replay (RETURN_EXISTING): the answer for this idempotency key's first request, "
            "with `Idempotent-Replayed: true`",
            "content": summary,
        },
        **problem_responses(400, 401, 403, 404, 406, 409, 503),
    }


@router.post(
    "/executions/<executionId>/retry",
    summary="Retry a failed execution from where it failed",
    description="A FAILED, TIMED_OUT or CANCELLED execution that ended less than 14 days ago runs again: "
    "the same execution (same id), from the state it failed in, the states that succeeded not run again "
    "(Step Functions' redrive). Its status goes back to RUNNING and `redriveCount` counts the retries; its "
    "history shows every attempt. Any other is 409 `execution_not_retryable`, with the reason. Needs the "
    "`retry` action; `Idempotency-Key` and `X-On-Conflict` as for a start.",
    responses=_responses("Retried: the execution runs again; `Location` names its status"),
    tags=["executions"],
    operation_id="retryExecution",
    security=ANY_CREDENTIAL,
)
@takes_query()
def retry_execution(
    execution_id: ExecutionIdPath,
    request: Request,
    caller: CallerOf,
    idempotency_key: IdempotencyKey = None,
    legacy_idempotency_key: LegacyIdempotencyKey = None,
    on_conflict: OnConflict = None,
    accept: Accept = None,
) -> Response[str]:
    negotiation.choose_start_representation(accept)  # refuse before retrying anything
    key, strategy = key_and_strategy(idempotency_key, legacy_idempotency_key, on_conflict)
    command = RetryCommand(execution_id, caller, idempotency_key=key, on_conflict=strategy)
    return answer_started(services.retry_execution().retry(command), request, accept)


@router.post(
    "/executions/<executionId>/rerun",
    summary="Rerun an execution as a new one",
    description="Starts a new execution of the same workflow, version, input, correlationId and priority "
    "(`?version=` for another version, `latest` for the newest), whatever the first one's status; its "
    "status document names the first in `rerunOf`. Needs the `retry` action and the start scope of the "
    "workflow; `Idempotency-Key` and `X-On-Conflict` as for a start.",
    responses=_responses("Rerun started: a new execution; `Location` names its status"),
    tags=["executions"],
    operation_id="rerunExecution",
    security=ANY_CREDENTIAL,
)
@takes_query()
def rerun_execution(
    execution_id: ExecutionIdPath,
    request: Request,
    caller: CallerOf,
    version: RerunVersion = None,
    idempotency_key: IdempotencyKey = None,
    legacy_idempotency_key: LegacyIdempotencyKey = None,
    on_conflict: OnConflict = None,
    accept: Accept = None,
) -> Response[str]:
    negotiation.choose_start_representation(accept)
    key, strategy = key_and_strategy(idempotency_key, legacy_idempotency_key, on_conflict)
    command = RerunCommand(execution_id, caller, version, idempotency_key=key, on_conflict=strategy)
    return answer_started(services.rerun_execution().rerun(command), request, accept)
