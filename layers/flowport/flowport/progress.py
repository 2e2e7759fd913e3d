"""Progress of an execution, from its state machine definition and its Step Functions history.

Pure: no AWS calls. The caller passes the definition (ASL, parsed) and the history events as
`get_execution_history(reverseOrder=True, maxResults=1000)` returns them. Only that newest page is read,
so every count below is over the newest 1000 events of a longer history.

The rules (the product's documented rule):

- total_nodes: the number of states in the definition, nested ones included. The states of every
  Parallel branch and of every Map's ItemProcessor (or legacy Iterator) count, each once. A Map state
  counts once however many items it iterates, and so does each of its inner states. (A DISTRIBUTED
  Map runs its inner states in child executions, whose events are not in this history: they count in
  total_nodes but never as completed.)
- completed_nodes: the number of distinct states of the definition with a "...StateExited" event
  (PassStateExited, TaskStateExited, MapStateExited, SucceedStateExited, ...). A state that ran many
  times (a loop, a Map's items) counts once. A Fail state is entered but never exits, and a Choice
  skips the branches it did not take, so a finished execution may complete fewer than total_nodes.
- current_node: the newest "...StateEntered" state still open, where each "...StateExited" closes the
  nearest earlier entry of the same name (so one Map item finishing does not hide another item still
  in the same state). None once the execution has finished.
- retry_count: task retries so far. A retry is an attempt (TaskScheduled, LambdaFunctionScheduled,
  ActivityScheduled) whose previousEventId is a failed attempt (TaskFailed, TaskTimedOut,
  LambdaFunctionFailed, LambdaFunctionTimedOut, ActivityFailed, ...): Step Functions chains a retry to
  the failure it retries. A failure that ended the state (no attempt follows it) is not a retry.
- failure: set when the execution FAILED or TIMED_OUT. code and message are the error and cause of the
  newest ExecutionFailed or ExecutionTimedOut event; a cause that is a Lambda's error JSON gives its
  "errorMessage". Without an error name the code is "States.Timeout" for a timeout and
  "ExecutionFailed" otherwise. node is the state the failure came from: the nearest "...StateEntered"
  up the failure event's previousEventId chain (the failing branch, when several ran at once), else
  the newest state entered.
- progress (0-100): 100 only when the execution SUCCEEDED. Otherwise the workflow's own reported
  progress wins when it gives one, rounded and clamped to 0..99; else
  round(100 * completed_nodes / total_nodes) (0 for an empty definition), capped at 99. A FAILED,
  TIMED_OUT or ABORTED execution keeps that value: it does not jump to 100.
- finished_status is Step Functions' status (SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE)
  or flowport's name for it (COMPLETED, CANCELLED). When it is None or RUNNING, the newest
  execution-level event of the history decides: ExecutionSucceeded, ExecutionFailed,
  ExecutionTimedOut or ExecutionAborted mean the execution ended, ExecutionRedriven that it runs again.
- Events are put newest first by their "id" before reading, whatever order they came in: moto (local
  mode) ignores reverseOrder and returns them oldest first.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

_ENTERED = "StateEntered"
_EXITED = "StateExited"

# Failed attempts of a task, each with the key of its details; an attempt chained to one is a retry.
ATTEMPT_FAILURES = {
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
ATTEMPTS = frozenset({"TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled"})


class _Outcome(Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


_STATUS_OUTCOMES = {
    "SUCCEEDED": _Outcome.SUCCEEDED,
    "COMPLETED": _Outcome.SUCCEEDED,
    "FAILED": _Outcome.FAILED,
    # A failed execution that may be redriven has failed until someone redrives it.
    "PENDING_REDRIVE": _Outcome.FAILED,
    "TIMED_OUT": _Outcome.TIMED_OUT,
    "ABORTED": _Outcome.ABORTED,
    "CANCELLED": _Outcome.ABORTED,
}

# Execution-level events, newest wins; None: the execution runs (again).
_EVENT_OUTCOMES: dict[str, _Outcome | None] = {
    "ExecutionSucceeded": _Outcome.SUCCEEDED,
    "ExecutionFailed": _Outcome.FAILED,
    "ExecutionTimedOut": _Outcome.TIMED_OUT,
    "ExecutionAborted": _Outcome.ABORTED,
    "ExecutionRedriven": None,
    "ExecutionStarted": None,
}

# An execution's failure or timeout, with the key of its details.
EXECUTION_FAILURES = {
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
}
_DEFAULT_CODES = {_Outcome.FAILED: "ExecutionFailed", _Outcome.TIMED_OUT: "States.Timeout"}
_DEFAULT_MESSAGES = {
    _Outcome.FAILED: "The execution failed",
    _Outcome.TIMED_OUT: "The execution ran longer than its workflow allows",
}


@dataclass(frozen=True)
class NodeFailure:
    code: str
    """The error name."""
    message: str
    """The cause; a Lambda's error JSON gives its errorMessage."""
    node: str | None
    """The state where it failed, if known."""


@dataclass(frozen=True)
class Progress:
    progress: int
    """0-100; 100 only once the execution succeeded."""
    current_node: str | None
    completed_nodes: int
    total_nodes: int
    retry_count: int
    failure: NodeFailure | None


# The definition


def _states(states: Mapping[str, Any]) -> Iterator[str]:
    """Every state's name, nested states included, each state once."""
    for name, state in states.items():
        yield name
        if not isinstance(state, Mapping):
            continue
        for branch in state.get("Branches") or ():
            yield from _states_of(branch)
        # ItemProcessor since 2023; Iterator is the older name of the same thing.
        yield from _states_of(state.get("ItemProcessor") or state.get("Iterator"))


def _states_of(machine: Any) -> Iterator[str]:
    if isinstance(machine, Mapping) and isinstance(machine.get("States"), Mapping):
        yield from _states(machine["States"])


def count_nodes(definition: dict[str, Any]) -> int:
    """The number of states, nested ones included, each once (a Map's items do not multiply them)."""
    return sum(1 for _ in _states_of(definition))


def node_names(definition: dict[str, Any]) -> frozenset[str]:
    """The names of all states, nested ones included."""
    return frozenset(_states_of(definition))


# The history


def _newest_first(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The sort is stable, so events without ids keep the order they were given in.
    return sorted(events, key=lambda event: int(event.get("id") or 0), reverse=True)


def _state_name(event: Mapping[str, Any], suffix: str) -> str | None:
    """The state an "...StateEntered" or "...StateExited" event names, or None for other events."""
    if not str(event.get("type", "")).endswith(suffix):
        return None
    key = "stateEnteredEventDetails" if suffix == _ENTERED else "stateExitedEventDetails"
    name = (event.get(key) or {}).get("name")
    return name if isinstance(name, str) else None


def _completed(events: list[dict[str, Any]], names: frozenset[str]) -> int:
    exited = {_state_name(event, _EXITED) for event in events}
    return len(exited & names)


def _current(newest_first: list[dict[str, Any]]) -> str | None:
    # Read newest to oldest: an exit waits for the nearest earlier entry of its name to close.
    waiting_exits: Counter[str] = Counter()
    for event in newest_first:
        if (exited := _state_name(event, _EXITED)) is not None:
            waiting_exits[exited] += 1
        elif (entered := _state_name(event, _ENTERED)) is not None:
            if waiting_exits[entered] == 0:
                return entered
            waiting_exits[entered] -= 1
    return None


def _retries(events: list[dict[str, Any]]) -> int:
    types_by_id = {event.get("id"): event.get("type") for event in events}
    return sum(
        1
        for event in events
        if event.get("type") in ATTEMPTS and types_by_id.get(event.get("previousEventId")) in ATTEMPT_FAILURES
    )


def _outcome(finished_status: str | None, newest_first: list[dict[str, Any]]) -> _Outcome | None:
    """How the execution ended, or None while it runs."""
    if finished_status in _STATUS_OUTCOMES:
        return _STATUS_OUTCOMES[finished_status]
    # No final status given (or RUNNING, read before the history): the history may know better.
    for event in newest_first:
        if event.get("type") in _EVENT_OUTCOMES:
            return _EVENT_OUTCOMES[event["type"]]
    return None


# The failure


def cause_message(cause: str) -> str:
    """A Lambda's cause is its error as JSON; the errorMessage is what a person wants to read."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    message = parsed.get("errorMessage") if isinstance(parsed, dict) else None
    return message if isinstance(message, str) else cause


def _failed_node(failure_event: Mapping[str, Any] | None, newest_first: list[dict[str, Any]]) -> str | None:
    """The state the failure came from: up the failure's chain of causes, else the newest entered."""
    by_id = {event.get("id"): event for event in newest_first}
    event = failure_event
    seen: set[Any] = set()
    # previousEventId always points back; `seen` guards against a malformed history looping.
    while event is not None and event.get("id") not in seen:
        seen.add(event.get("id"))
        if (name := _state_name(event, _ENTERED)) is not None:
            return name
        event = by_id.get(event.get("previousEventId"))
    return next((name for e in newest_first if (name := _state_name(e, _ENTERED)) is not None), None)


def _failure(outcome: _Outcome | None, newest_first: list[dict[str, Any]]) -> NodeFailure | None:
    if outcome not in (_Outcome.FAILED, _Outcome.TIMED_OUT):
        return None
    event = next((e for e in newest_first if e.get("type") in EXECUTION_FAILURES), None)
    details = (event.get(EXECUTION_FAILURES[event["type"]]) or {}) if event is not None else {}
    # The event is authoritative: a TIMED_OUT status with an ExecutionTimedOut event names States.Timeout.
    kind = _Outcome.TIMED_OUT if event is not None and event["type"] == "ExecutionTimedOut" else outcome
    cause = details.get("cause")
    return NodeFailure(
        code=details.get("error") or _DEFAULT_CODES[kind],
        message=cause_message(cause) if cause else _DEFAULT_MESSAGES[kind],
        node=_failed_node(event, newest_first),
    )


# The percentage


def _reported(value: int | float | None) -> int | None:
    """The workflow's own figure, rounded; None when it gave none or nothing usable."""
    # bool is an int to Python, but True is no percentage.
    if value is None or isinstance(value, bool) or not math.isfinite(value):
        return None
    return round(value)


def _percent(outcome: _Outcome | None, reported: int | float | None, completed: int, total: int) -> int:
    if outcome is _Outcome.SUCCEEDED:
        return 100
    own = _reported(reported)
    computed = own if own is not None else (round(100 * completed / total) if total else 0)
    # Not succeeded (yet): never 100, so 100 always means done.
    return max(0, min(99, computed))


def progress_of(
    definition: dict[str, Any],
    events_newest_first: list[dict[str, Any]],
    finished_status: str | None,
    reported_progress: int | float | None = None,
) -> Progress:
    """The progress view of an execution; see the module docstring for the rules."""
    events = _newest_first(events_newest_first)
    outcome = _outcome(finished_status, events)
    completed = _completed(events, node_names(definition))
    total = count_nodes(definition)
    return Progress(
        progress=_percent(outcome, reported_progress, completed, total),
        current_node=None if outcome is not None else _current(events),
        completed_nodes=completed,
        total_nodes=total,
        retry_count=_retries(events),
        failure=_failure(outcome, events),
    )
