"""Progress of an execution, from its state machine definition and its Step Functions history.

Pure: no AWS calls. The caller passes the definition (ASL, parsed) and the history events as
`get_execution_history(reverseOrder=True, maxResults=1000)` returns them. Only that newest page is read,
so every count below is over the newest 1000 events of a longer history. The history is read by
flowport.core.history, the one reader every view of an execution shares: "exited", "open", "retry" and
"the state it failed in" below are that module's state runs.

The rules (the product's documented rule):

- total_nodes: the number of states in the definition, nested ones included. The states of every
  Parallel branch and of every Map's ItemProcessor (or legacy Iterator) count, each once. A Map state
  counts once however many items it iterates, and so does each of its inner states. (A DISTRIBUTED
  Map runs its inner states in child executions, whose events are not in this history: they count in
  total_nodes but never as completed.)
- completed_nodes: the number of distinct states of the definition with a run that exited
  (PassStateExited, TaskStateExited, MapStateExited, SucceedStateExited, ...). A state that ran many
  times (a loop, a Map's items) counts once. A Fail state is entered but never exits, and a Choice
  skips the branches it did not take, so a finished execution may complete fewer than total_nodes.
- current_node: the newest state run still open (each exit closes its own run, so one Map item
  finishing does not hide another item still in the same state). None once the execution has finished,
  and after a redrive until it enters a state again.
- retry_count: task retries so far: every attempt of a run after its first (Step Functions schedules
  a new attempt only to retry a failed one). A failure that ended the state is not a retry.
- failure: set when the execution FAILED or TIMED_OUT. code and message are the error and cause of the
  ExecutionFailed or ExecutionTimedOut event; a cause that is a Lambda's error JSON gives its
  "errorMessage". Without an error name the code is "States.Timeout" for a timeout and
  "ExecutionFailed" otherwise. node is the history's failed node: the innermost state the final event
  chains to (the failing branch, when several ran at once), else the newest state entered.
- progress (0-100): 100 only when the execution SUCCEEDED. Otherwise the workflow's own reported
  progress wins when it gives one, rounded and clamped to 0..99; else
  round(100 * completed_nodes / total_nodes) (0 for an empty definition), capped at 99. A FAILED,
  TIMED_OUT or ABORTED execution keeps that value: it does not jump to 100.
- finished_status is Step Functions' status (SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE)
  or flowport's name for it (COMPLETED, CANCELLED). When it is None or RUNNING, the history decides:
  its final event, unless an ExecutionRedriven came after it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flowport.core import history
from flowport.core.models import NodeStatus, ProgressSnapshot


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


# How it ended

# flowport's and Step Functions' names of a finished execution, as the history names its end.
_FINISHED = {
    "SUCCEEDED": NodeStatus.SUCCEEDED,
    "COMPLETED": NodeStatus.SUCCEEDED,
    "FAILED": NodeStatus.FAILED,
    # A failed execution that may be redriven has failed until someone redrives it.
    "PENDING_REDRIVE": NodeStatus.FAILED,
    "TIMED_OUT": NodeStatus.TIMED_OUT,
    "ABORTED": NodeStatus.CANCELLED,
    "CANCELLED": NodeStatus.CANCELLED,
}
_FAILED = frozenset({NodeStatus.FAILED, NodeStatus.TIMED_OUT})
_DEFAULT_CODES = {NodeStatus.FAILED: "ExecutionFailed", NodeStatus.TIMED_OUT: "States.Timeout"}


def _failure(outcome: NodeStatus | None, reading: history.Reading) -> NodeFailure | None:
    if outcome not in _FAILED:
        return None
    if reading.error is not None:
        code, message = reading.error.code, reading.error.message
    else:  # told it failed, and no failure event (yet) in what was read
        code = _DEFAULT_CODES[outcome]
        message = history.DEFAULT_MESSAGES[code]
    node = reading.failed_node or (reading.runs[-1].name if reading.runs else None)
    return NodeFailure(code=code, message=message, node=node)


# The percentage


def reported_percent(value: Any) -> int | None:
    """The workflow's own figure, rounded; None when it gave none or nothing usable."""
    # bool is an int to Python, but True is no percentage.
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return None
    return round(value)


def percent(succeeded: bool, reported: Any, completed: int, total: int) -> int:
    if succeeded:
        return 100
    own = reported_percent(reported)
    computed = own if own is not None else (round(100 * completed / total) if total else 0)
    # Not succeeded (yet): never 100, so 100 always means done.
    return max(0, min(99, computed))


def with_reported(counted: ProgressSnapshot, succeeded: bool, reported: Any) -> ProgressSnapshot:
    """The progress counted from the history, with the workflow's own figure winning when it gave one."""
    shown = percent(succeeded, reported, counted.completed_nodes, counted.total_nodes)
    return counted.model_copy(update={"progress": shown})


def progress_of(
    definition: dict[str, Any],
    events: list[dict[str, Any]],
    finished_status: str | None,
    reported_progress: int | float | None = None,
) -> Progress:
    """The progress view of an execution; see the module docstring for the rules."""
    return progress_of_reading(definition, history.read(events), finished_status, reported_progress)


def progress_of_reading(
    definition: dict[str, Any],
    reading: history.Reading,
    finished_status: str | None,
    reported_progress: Any = None,
) -> Progress:
    outcome = _FINISHED.get(finished_status or "") or reading.ended
    exited = {run.name for run in reading.runs if run.exited}
    completed = len(exited & node_names(definition))
    total = count_nodes(definition)
    running = [run for run in reading.runs if run.status is NodeStatus.RUNNING]
    return Progress(
        progress=percent(outcome is NodeStatus.SUCCEEDED, reported_progress, completed, total),
        current_node=running[-1].name if running and outcome is None else None,
        completed_nodes=completed,
        total_nodes=total,
        retry_count=sum(max(0, run.attempts - 1) for run in reading.runs),
        failure=_failure(outcome, reading),
    )
