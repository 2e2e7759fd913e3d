"""Node history: one entry per executed state, from an execution's Step Functions history.

Pure: no AWS calls. The caller passes the whole history (any order; it is read oldest first by id).

The rules:

- Every "...StateEntered" event opens a node run; states that ran many times (a loop, a Map's items)
  give one run each. Runs are ordered by when they were entered, and named by that event's id, which
  never changes: pages are cut after a run's id.
- An event belongs to the run its previousEventId chain leads back to (Step Functions chains a task's
  scheduling, start, failure, retry and success to the state that entered it).
- A "...StateExited" event closes its own run when the chain leads to one of that name, else the
  newest open run of that name (a Map's exit chains to its last item, not to itself).
- attempts: the task attempts scheduled in the run (1 + its retries); 0 for states that are not tasks.
- status: SUCCEEDED once exited, unless its last attempt failed and a Catch led elsewhere (FAILED, with
  the error). A run never exited is RUNNING while the execution runs; once the execution ended it is
  FAILED (a Fail state, or a failure inside it), TIMED_OUT or CANCELLED, as the execution ended.
- error: the last failed attempt's error and cause (a Lambda's error JSON gives its errorMessage), or
  for a run the execution failed in, the execution's error.
- input and output: the state's input as entered and output as exited, when asked for, each dropped
  (with `...Truncated: true`) above a size cap, as Step Functions itself drops data over 256 KiB.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowport import tokens
from flowport.errors import InvalidNextToken
from flowport.models import ExecutionError, ExecutionHistory, NodeEntry, NodeStatus
from flowport.progress import cause_message

_ENTERED = "StateEntered"
_EXITED = "StateExited"
_ATTEMPTS = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})
# Each failed attempt and the key of its details.
_ATTEMPT_FAILURES = {
    "TaskFailed": "taskFailedEventDetails",
    "TaskTimedOut": "taskTimedOutEventDetails",
    "TaskStartFailed": "taskStartFailedEventDetails",
    "TaskSubmitFailed": "taskSubmitFailedEventDetails",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventDetails",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventDetails",
    "LambdaFunctionStartFailed": "lambdaFunctionStartFailedEventDetails",
    "LambdaFunctionScheduleFailed": "lambdaFunctionScheduleFailedEventDetails",
    "ActivityFailed": "activityFailedEventDetails",
    "ActivityTimedOut": "activityTimedOutEventDetails",
    "ActivityScheduleFailed": "activityScheduleFailedEventDetails",
}
_ATTEMPT_SUCCESSES = frozenset({"TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded"})


# How the execution ended, by its final event, and what that makes of a run still open.
_EXECUTION_ENDS = {
    "ExecutionSucceeded": NodeStatus.SUCCEEDED,
    "ExecutionFailed": NodeStatus.FAILED,
    "ExecutionTimedOut": NodeStatus.TIMED_OUT,
    "ExecutionAborted": NodeStatus.CANCELLED,
}
_EXECUTION_ERRORS = {
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
}


@dataclass(frozen=True)
class NodeError:
    code: str
    message: str


@dataclass(frozen=True)
class NodeData:
    """A state's input or output as JSON text, or None when Step Functions or the cap dropped it."""

    text: str | None
    truncated: bool


@dataclass(frozen=True)
class NodeRun:
    id: int
    """The id of the event that entered the state: unique and increasing within one execution."""
    name: str
    type: str
    status: NodeStatus
    started_at: datetime | None
    ended_at: datetime | None
    attempts: int
    error: NodeError | None
    input: NodeData
    output: NodeData | None


@dataclass
class _OpenRun:
    id: int
    name: str
    type: str
    started_at: datetime | None
    input: NodeData
    ended_at: datetime | None = None
    output: NodeData | None = None
    exited: bool = False
    attempts: int = 0
    last_attempt_failed: bool = False
    error: NodeError | None = None


def _state_type(event_type: str, suffix: str) -> str | None:
    return event_type[: -len(suffix)] if event_type.endswith(suffix) else None


def _error(details: Mapping[str, Any], default_code: str) -> NodeError:
    cause = details.get("cause")
    return NodeError(
        code=str(details.get("error") or default_code),
        message=cause_message(cause) if isinstance(cause, str) and cause else str(default_code),
    )


def _data(details: Mapping[str, Any], key: str, cap: int) -> NodeData:
    text = details.get(key)
    truncated = bool((details.get(f"{key}Details") or {}).get("truncated"))
    if not isinstance(text, str) or len(text.encode()) > cap:
        return NodeData(None, truncated or isinstance(text, str))
    return NodeData(text, truncated)


_Ending = tuple[NodeStatus, NodeError | None, datetime | None, int | None]


@dataclass
class _Walk:
    runs: dict[int, _OpenRun]
    owner: dict[int, int]
    """Event id -> id of the run it belongs to."""
    ending: _Ending | None = None
    """How the execution ended, when, and the run its final event chains to."""


def _walk(events: Iterable[Mapping[str, Any]], io_cap_bytes: int) -> _Walk:
    walk = _Walk(runs={}, owner={})
    runs, owner = walk.runs, walk.owner
    for event in sorted(events, key=lambda event: int(event.get("id") or 0)):
        event_id, event_type = int(event.get("id") or 0), str(event.get("type", ""))
        run_id = owner.get(int(event.get("previousEventId") or 0))
        if (state_type := _state_type(event_type, _ENTERED)) is not None:
            details = event.get("stateEnteredEventDetails") or {}
            runs[event_id] = _OpenRun(
                id=event_id,
                name=str(details.get("name")),
                type=state_type,
                started_at=event.get("timestamp"),
                input=_data(details, "input", io_cap_bytes),
            )
            owner[event_id] = event_id
            continue
        if _state_type(event_type, _EXITED) is not None:
            details = event.get("stateExitedEventDetails") or {}
            run = _exiting(runs, run_id, str(details.get("name")))
            if run is not None:
                run.exited, run.ended_at = True, event.get("timestamp")
                run.output = _data(details, "output", io_cap_bytes)
                owner[event_id] = run.id
            continue
        if run_id is not None:
            owner[event_id] = run_id
            _attempt(runs[run_id], event_type, event)
        if event_type in _EXECUTION_ENDS:
            error_key = _EXECUTION_ERRORS.get(event_type)
            error = _error(event.get(error_key) or {}, event_type) if error_key else None
            walk.ending = (_EXECUTION_ENDS[event_type], error, event.get("timestamp"), run_id)
    return walk


def node_runs(events: Iterable[Mapping[str, Any]], io_cap_bytes: int = 0) -> list[NodeRun]:
    """Every state run in the history, in the order they were entered; see the module's rules."""
    walk = _walk(events, io_cap_bytes)
    return [_finished(run, walk.ending) for run in walk.runs.values()]


@dataclass(frozen=True)
class StateRef:
    name: str
    type: str


def states_of_events(events: Iterable[Mapping[str, Any]]) -> dict[int, StateRef]:
    """The state each event belongs to, by event id (events of the execution itself have none)."""
    walk = _walk(events, 0)
    return {
        event_id: StateRef(walk.runs[run].name, walk.runs[run].type) for event_id, run in walk.owner.items()
    }


def failure_of(event: Mapping[str, Any]) -> NodeError | None:
    """The error of a failed task attempt, or None for any other event."""
    details_key = _ATTEMPT_FAILURES.get(str(event.get("type", "")))
    return _error(event.get(details_key) or {}, str(event["type"])) if details_key else None


def _exiting(runs: dict[int, _OpenRun], chained: int | None, name: str) -> _OpenRun | None:
    if chained is not None and runs[chained].name == name and not runs[chained].exited:
        return runs[chained]
    return next((run for run in reversed(runs.values()) if run.name == name and not run.exited), None)


def _attempt(run: _OpenRun, event_type: str, event: Mapping[str, Any]) -> None:
    if event_type in _ATTEMPTS:
        run.attempts += 1
    elif (failure := failure_of(event)) is not None:
        run.last_attempt_failed, run.error = True, failure
    elif event_type in _ATTEMPT_SUCCESSES:
        run.last_attempt_failed, run.error = False, None


def _finished(run: _OpenRun, ending: _Ending | None) -> NodeRun:
    error = run.error if run.last_attempt_failed else None
    if run.exited:
        status = NodeStatus.FAILED if error is not None else NodeStatus.SUCCEEDED
        ended_at = run.ended_at
    elif ending is None:
        status, ended_at = NodeStatus.RUNNING, None
    else:
        execution_status, execution_error, ended_at, failed_in = ending
        # A state still open when the execution succeeded ended with it (a Succeed state never exits).
        status = execution_status
        if status is NodeStatus.FAILED and error is None and failed_in == run.id:
            error = execution_error
    return NodeRun(
        id=run.id,
        name=run.name,
        type=run.type,
        status=status,
        started_at=run.started_at,
        ended_at=ended_at,
        attempts=run.attempts,
        error=error,
        input=run.input,
        output=run.output,
    )


# A page of 100 runs with both values at the cap stays far below Lambda's 6 MB response limit.
IO_CAP_BYTES = 16 * 1024
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def _value(data: NodeData) -> Any:
    if data.text is None:
        return None
    try:
        return json.loads(data.text)
    except ValueError:  # Step Functions data is JSON; keep anything else as the text it is
        return data.text


def _entry(run: NodeRun, include_io: bool) -> NodeEntry:
    entry = NodeEntry(
        name=run.name,
        type=run.type,
        status=run.status,
        started_at=run.started_at,
        ended_at=run.ended_at,
        attempts=run.attempts,
        error=ExecutionError(code=run.error.code, message=run.error.message) if run.error else None,
    )
    if not include_io:
        return entry
    output = run.output or NodeData(None, False)
    return entry.model_copy(
        update={
            "input": _value(run.input),
            "input_truncated": run.input.truncated or None,
            "output": _value(output),
            "output_truncated": output.truncated or None,
        }
    )


def page(
    execution_id: str, runs: list[NodeRun], next_token: str | None, limit: int, include_io: bool
) -> ExecutionHistory:
    """The runs after the token's position, at most `limit` of them, and the token for the rest."""
    after = 0
    if next_token is not None:
        position = tokens.decode(next_token).get("after")
        if not isinstance(position, int) or isinstance(position, bool) or position < 0:
            raise InvalidNextToken("nextToken is not a token of this execution's history")
        after = position
    remaining = [run for run in runs if run.id > after]
    shown = remaining[:limit]
    more = len(remaining) > limit
    return ExecutionHistory(
        execution_id=execution_id,
        nodes=[_entry(run, include_io) for run in shown],
        next_token=tokens.encode({"after": shown[-1].id}) if more else None,
    )
