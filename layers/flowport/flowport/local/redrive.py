"""Step Functions' RedriveExecution, which moto lacks, emulated for local mode and the moto-backed tests.

What a client sees is what AWS does: a FAILED, TIMED_OUT or ABORTED execution keeps its ARN and name,
goes back to RUNNING and runs again from the state it stopped in (the states that succeeded are not run
again); its history is the earlier attempts' events, an `ExecutionRedriven` event with the attempt's
`redriveCount`, then the new attempt's events, ids continuing. DescribeExecution reports `redriveCount`,
`redriveDate` and `redriveStatus`, the local EventBridge sends the attempt's status changes with them
(flowport.local.eventbridge), and `clientToken` makes a repeated request (one of the last 10 tokens,
within 15 minutes) answer the first one's redrive without redriving again. A SUCCEEDED or RUNNING
execution, an EXPRESS one and one that ended 14 days ago or more are refused with
`ExecutionNotRedrivable`, an unknown one with `ExecutionDoesNotExist`, as on AWS.

How it differs from AWS:

- Where it goes on from: the top-level state the execution was in when it ended (or, ended between two
  states, the next one), with the input that state was entered with. A failure inside a Map or Parallel
  runs that whole Map or Parallel again, every iteration and branch; AWS runs only those that failed or
  were aborted.
- `$$.Execution.RedriveCount` and `$$.Execution.RedriveTime` exist in a redriven attempt only (AWS has
  them, 0 and absent, in a first run too); the state machine's TimeoutSeconds counts from the redrive,
  as on AWS.
- No redrive quotas (AWS counts redrives as state transitions, and caps an execution's history at
  25,000 events), no distributed Map runs, and the states' own retry counters start afresh.

moto internals relied on (tests/local/test_redrive.py fails loudly if they change):
- `moto.stepfunctions.responses.StepFunctionResponse` dispatches an action to its method of that name
  (`redrive_execution`), and `describe_execution` answers from the execution's attributes;
- `StepFunctionsParserBackend.describe_execution(arn)` and `_get_state_machine_for_execution(arn)`, whose
  `.executions` list holds the execution objects by `execution_arn`;
- `moto.stepfunctions.parser.backend.execution.Execution` (its constructor, `start`,
  `_get_start_execution_worker`, `to_history_output`) and `ExecutionWorker._execution_logic`'s steps:
  parse the definition, build the environment, add the first history event, `program.eval(env)`, then
  `terminated()`.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from moto.core.exceptions import AWSError
from moto.core.responses import ActionResult
from moto.stepfunctions.parser.api import (
    ExecutionRedrivenEventDetails,
    ExecutionStatus,
    HistoryEventType,
    StateMachineType,
)
from moto.stepfunctions.parser.asl.eval.evaluation_details import EvaluationDetails, StateMachineDetails
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

REDRIVABLE_PERIOD = timedelta(days=14)
# Step Functions answers the last 10 client tokens of an execution, each for 15 minutes after first use.
TOKENS_KEPT = 10
TOKEN_PERIOD = timedelta(minutes=15)
_REDRIVABLE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED})
_STARTS = frozenset({"ExecutionStarted", "ExecutionRedriven"})
# One redrive at a time: the moto server answers requests on many threads, and a redrive replaces the
# execution it redrives.
_lock = threading.Lock()
_redrives_made: Counter[str] = Counter()


class ExecutionNotRedrivable(AWSError):
    TYPE = "ExecutionNotRedrivable"


def _type(event: dict[str, Any]) -> str:
    kind = event.get("type")
    return str(getattr(kind, "value", kind))


def _details(event: dict[str, Any], key: str) -> dict[str, Any]:
    found = event.get(key)
    return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class RestartPoint:
    state: str
    input: Any


def restart_point(
    events: list[dict[str, Any]], definition: dict[str, Any], execution_input: Any
) -> RestartPoint:
    """Where a redrive goes on from: the top-level state still open when the execution ended, with the
    input it was entered with; else (it ended between two states) the one after the last that exited;
    else (no state ran) the first. Top-level states are entered first (previousEventId 0), after a start,
    or after a top-level state's exit, which is how they are told from a Map's or Parallel's inner states."""
    by_id = {int(event["id"]): event for event in events}
    top_level_exits: set[int] = set()
    open_entry: dict[str, Any] | None = None
    last_exit: dict[str, Any] | None = None
    for event_id in sorted(by_id):
        event, kind = by_id[event_id], _type(by_id[event_id])
        previous = int(by_id[event_id].get("previousEventId") or 0)
        if kind.endswith("StateEntered"):
            if previous == 0 or previous in top_level_exits or _type(by_id.get(previous, {})) in _STARTS:
                open_entry = event
        elif kind.endswith("StateExited") and open_entry is not None:
            name = _details(event, "stateExitedEventDetails").get("name")
            if name == _details(open_entry, "stateEnteredEventDetails").get("name"):
                top_level_exits.add(event_id)
                open_entry, last_exit = None, event
    states = definition.get("States") or {}
    if open_entry is not None:
        entered = _details(open_entry, "stateEnteredEventDetails")
        return RestartPoint(str(entered["name"]), json.loads(entered.get("input") or "{}"))
    if last_exit is not None:
        exited = _details(last_exit, "stateExitedEventDetails")
        following = (states.get(exited["name"]) or {}).get("Next")
        if following:
            return RestartPoint(str(following), json.loads(exited.get("output") or "{}"))
    return RestartPoint(str(definition["StartAt"]), execution_input)


def redrive_count_of(execution: Execution) -> int:
    return int(getattr(execution, "redrive_count", 0))


def redrives_made(execution_arn: str) -> int:
    """How many redrives of this execution this process has made (local state saving asks)."""
    return _redrives_made[execution_arn]


class _RedriveWorker(ExecutionWorker):
    """moto's worker, going on from a state of an earlier attempt instead of the definition's start."""

    def __init__(self, execution: RedrivenExecution, **arguments: Any) -> None:
        super().__init__(**arguments)
        self._execution = execution

    def _execution_logic(self) -> None:
        execution = self._execution
        program = self._get_evaluation_entrypoint()
        self.env = environment = self._get_evaluation_environment()
        context = cast(dict[str, Any], environment.states.context_object.context_object_data["Execution"])
        context["RedriveCount"] = execution.redrive_count
        context["RedriveTime"] = execution.redrive_date.isoformat()
        # The new attempt's events follow the earlier ones': ids go on, and the first chains to the redrive.
        after = max((int(event["id"]) for event in execution.prior_events), default=0)
        environment.event_manager._event_id_gen._next_id = after + 1
        environment.event_history_context.source_event_id = after
        environment.event_history_context.last_published_event_id = after
        environment.states.reset(execution.restart.input)
        environment.event_manager.add_event(
            context=environment.event_history_context,
            event_type=HistoryEventType.ExecutionRedriven,
            # moto's EventDetails type predates this event; the dict is what its history holds.
            event_details=cast(
                EventDetails,
                {
                    "executionRedrivenEventDetails": ExecutionRedrivenEventDetails(
                        redriveCount=execution.redrive_count
                    )
                },
            ),
        )
        program.eval(environment)
        self._execution_communication.terminated()


class RedrivenExecution(Execution):
    """The same execution, running again: it takes the place of the one it redrives."""

    def __init__(
        self, previous: Execution, redrive_date: datetime, client_tokens: dict[str, datetime]
    ) -> None:
        super().__init__(
            name=previous.name,
            sm_type=previous.sm_type,
            role_arn=previous.role_arn,
            exec_arn=previous.exec_arn,
            account_id=previous.account_id,
            region_name=previous.region_name,
            state_machine=previous.state_machine,
            start_date=previous.start_date,
            cloud_watch_logging_session=None,
            activity_store=getattr(previous, "_activity_store", {}),
            input_data=previous.execution_input,
            trace_header=previous.trace_header,
        )
        self.prior_events: list[dict[str, Any]] = [
            dict(event) for event in previous.to_history_output()["events"]
        ]
        self.redrive_count = redrive_count_of(previous) + 1
        self.redrive_date = redrive_date
        self.client_tokens = client_tokens
        definition = json.loads(previous.state_machine.definition)
        self.restart = restart_point(self.prior_events, definition, self.input_data)
        self._definition = json.dumps({**definition, "StartAt": self.restart.state})

    def get_start_state_machine_details(self) -> StateMachineDetails:
        details = super().get_start_state_machine_details()
        return StateMachineDetails(
            arn=details.arn, name=details.name, typ=details.typ, definition=self._definition
        )

    def _get_start_execution_worker(self) -> ExecutionWorker:
        return _RedriveWorker(
            self,
            evaluation_details=EvaluationDetails(
                aws_execution_details=self._get_start_aws_execution_details(),
                execution_details=self.get_start_execution_details(),
                state_machine_details=self.get_start_state_machine_details(),
            ),
            exec_comm=self._get_start_execution_worker_comm(),
            cloud_watch_logging_session=None,
            activity_store=self._activity_store,
        )

    def to_history_output(self) -> Any:
        output = super().to_history_output()
        return {**output, "events": [*self.prior_events, *output["events"]]}


def _refusal(execution: Execution, now: datetime) -> str | None:
    status = execution.exec_status
    if execution.sm_type == StateMachineType.EXPRESS:
        return "Express executions cannot be redriven"
    if status not in _REDRIVABLE:
        return f"Execution is {getattr(status, 'value', status)} and cannot be redriven"
    if execution.stop_date is not None and now - execution.stop_date >= REDRIVABLE_PERIOD:
        return "Execution redrivable period exceeded"
    return None


def redrive(backend: StepFunctionsParserBackend, execution_arn: str, client_token: str | None) -> datetime:
    """RedriveExecution: the redrive's date (the first one's, for a client token seen again)."""
    with _lock:
        # moto types it as its older, non-executing Execution; the executing backend holds these.
        previous = cast(Execution, backend.describe_execution(execution_arn))
        now = datetime.now(UTC)
        tokens: dict[str, datetime] = {
            token: first_used
            for token, first_used in getattr(previous, "client_tokens", {}).items()
            if now - first_used < TOKEN_PERIOD
        }
        if client_token is not None and client_token in tokens:
            return tokens[client_token]  # the redrive that token made, as AWS answers it again
        refusal = _refusal(previous, now)
        if refusal is not None:
            raise ExecutionNotRedrivable(refusal)
        if client_token is not None:
            tokens = dict(list(tokens.items())[-(TOKENS_KEPT - 1) :]) | {client_token: now}
        redriven = RedrivenExecution(previous, now, tokens)
        executions: list[Any] = backend._get_state_machine_for_execution(execution_arn).executions
        executions[next(n for n, found in enumerate(executions) if found is previous)] = redriven
        _redrives_made[execution_arn] += 1
        redriven.start()
    return now


def redrive_fields(execution: Execution) -> dict[str, Any]:
    """DescribeExecution's (and the status change events') redrive fields for this execution."""
    fields: dict[str, Any] = {"redriveCount": redrive_count_of(execution)}
    if hasattr(execution, "redrive_date"):
        fields["redriveDate"] = execution.redrive_date
    reason = _refusal(execution, datetime.now(UTC))
    fields["redriveStatus"] = "REDRIVABLE" if reason is None else "NOT_REDRIVABLE"
    if reason is not None:
        fields["redriveStatusReason"] = reason
    return fields


def _redrive_execution(self: StepFunctionResponse) -> ActionResult:
    backend: Any = self.stepfunction_backend
    date = redrive(backend, self._get_param("executionArn"), self._get_param("clientToken"))
    return ActionResult({"redriveDate": date})


_original_describe = StepFunctionResponse.describe_execution


def _describe_execution(self: StepFunctionResponse) -> ActionResult:
    answer = _original_describe(self)
    execution = cast(Execution, self.stepfunction_backend.describe_execution(self._get_param("executionArn")))
    result: dict[str, Any] = copy.copy(answer.result)  # type: ignore[arg-type]
    return ActionResult(result | redrive_fields(execution))


def install() -> None:
    """Answer RedriveExecution, and the redrive fields of DescribeExecution, from now on."""
    StepFunctionResponse.redrive_execution = _redrive_execution  # type: ignore[attr-defined]
    StepFunctionResponse.describe_execution = _describe_execution  # type: ignore[method-assign]


def is_installed() -> bool:
    return StepFunctionResponse.describe_execution is _describe_execution
