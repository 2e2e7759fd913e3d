"""The one reader of Step Functions history: which state each event belongs to, one entry per state run,
and how the execution ended. Status progress (flowport.core.progress), node history (GET .../history) and
the event stream's node events (flowport.core.live) are all read from one walk of `read`, so the current
node, the node a failure is pinned on and the stream's `node_failed` can never disagree.

Pure: no AWS calls. The caller passes the history, whole or its newest page, in any order: it is read
oldest first by id (moto, in local mode, ignores reverseOrder).

The rules:

- Every "...StateEntered" event opens a node run; states that ran many times (a loop, a Map's items)
  give one run each. Runs are ordered by when they were entered, and named by that event's id, which
  never changes: pages are cut after a run's id.
- An event belongs to the run its previousEventId chain leads back to (Step Functions chains a task's
  scheduling, start, failure, retry and success to the state that entered it). A state entered from a
  Map iteration's or a Parallel's start is inside that Map or Parallel; a state entered after another
  is where that one was. Map and Parallel events (...StateStarted, ...StateSucceeded, ...StateFailed,
  MapIteration...) belong to the nearest Map or Parallel up that chain, and a "...StateExited" closes
  the nearest open run of its name up it (a Map's exit chains to its last item's events, not to itself),
  else, when the chain is cut (the newest page of a long history), the newest open run of its name.
- attempts: the task attempts scheduled in the run (1 + its retries); 0 for states that are not tasks.
- status: a run that exited is SUCCEEDED, or FAILED when its last attempt failed or, for a Map or
  Parallel, when it failed, and a Catch led on. A run still open when its Map or Parallel ended was
  stopped: CANCELLED (FAILED if its own last attempt failed). A run never exited is FAILED when its last
  attempt failed; otherwise RUNNING while the execution runs, and once the execution ended FAILED for
  the run it failed in (a Fail state, a failed Map or Parallel), else TIMED_OUT or CANCELLED. After a
  redrive (an ExecutionRedriven event: a retry, flowport.core.retry), the runs it left open stay as they
  ended, and the execution runs new ones: the history lists every attempt's runs, oldest first, and how
  the execution ended is its latest attempt's end.
- error: the last failed attempt's error and cause (a Lambda's error JSON gives its errorMessage); for
  a failed Map or Parallel, that of the run its failure came from; for the run the execution failed in,
  the execution's error.
- The failed node of an execution that failed or timed out is the innermost run its final event chains
  to: the Fail state, the task whose failure nobody caught, or inside a failed Map or Parallel the run
  its failure came from; else the newest run entered. The final event belongs to that run.
- input and output: the state's input as entered and output as exited, when asked for, each dropped
  (with `...Truncated: true`) above a size cap, as Step Functions itself drops data over 256 KiB.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flowport.core import tokens
from flowport.core.errors import InvalidNextToken
from flowport.core.models import ExecutionError, ExecutionHistory, NodeEntry, NodeStatus

ENTERED = "StateEntered"
EXITED = "StateExited"
# Failed attempts of a task, each with the key of its details; an attempt after one is a retry.
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
_ATTEMPT_SUCCESSES = frozenset({"TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded"})
# An execution's failure or timeout, with the key of its details.
EXECUTION_FAILURES = {
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
}
DEFAULT_MESSAGES = {
    "ExecutionFailed": "The execution failed",
    "States.Timeout": "The execution ran longer than its workflow allows",
}


# How the execution ended, by its final event, and what that makes of a run still open.
EXECUTION_ENDS = {
    "ExecutionSucceeded": NodeStatus.SUCCEEDED,
    "ExecutionFailed": NodeStatus.FAILED,
    "ExecutionTimedOut": NodeStatus.TIMED_OUT,
    "ExecutionAborted": NodeStatus.CANCELLED,
}


def cause_message(cause: str) -> str:
    """A Lambda's cause is its error as JSON; the errorMessage is what a person wants to read."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    message = parsed.get("errorMessage") if isinstance(parsed, dict) else None
    return message if isinstance(message, str) else cause


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
    exited: bool = False
    """The state exited (its "...StateExited" event), whatever its status."""


@dataclass
class _OpenRun:
    id: int
    name: str
    type: str
    parent: int | None
    started_at: datetime | None
    input: NodeData
    ended_at: datetime | None = None
    output: NodeData | None = None
    exited: bool = False
    stopped: bool = False  # still open when its Map or Parallel ended
    attempts: int = 0
    failed: bool = False  # its last attempt failed and no retry followed yet, or (Map, Parallel) it failed
    error: NodeError | None = None
    failed_from: int | None = None  # a Map or Parallel: the inner run its failure came from
    ended_as: tuple[NodeStatus, NodeError | None] | None = None  # set when a redrive left it behind


def _state_type(event_type: str, suffix: str) -> str | None:
    return event_type[: -len(suffix)] if event_type.endswith(suffix) else None


def _error(details: Mapping[str, Any], default_code: str) -> NodeError:
    cause = details.get("cause")
    code = str(details.get("error") or default_code)
    return NodeError(
        code=code,
        message=cause_message(cause)
        if isinstance(cause, str) and cause
        else DEFAULT_MESSAGES.get(code, code),
    )


def _data(details: Mapping[str, Any], key: str, cap: int) -> NodeData:
    text = details.get(key)
    truncated = bool((details.get(f"{key}Details") or {}).get("truncated"))
    if not isinstance(text, str) or len(text.encode()) > cap:
        return NodeData(None, truncated or isinstance(text, str))
    return NodeData(text, truncated)


# Events that start the states inside a Map iteration or a Parallel's branches.
_CONTAINER_STARTS = frozenset({"MapIterationStarted", "ParallelStateStarted"})
# Events of a Map or Parallel as a whole, by the type of state they belong to.
_CONTAINER_EVENTS = {"MapState": "Map", "MapIteration": "Map", "ParallelState": "Parallel"}
_CONTAINER_OPENINGS = frozenset({"MapStateEntered", "ParallelStateEntered"})
_CONTAINER_ENDS = {
    "MapStateSucceeded",
    "MapStateFailed",
    "MapStateAborted",
    "ParallelStateSucceeded",
    "ParallelStateFailed",
    "ParallelStateAborted",
}


@dataclass(frozen=True)
class _Ending:
    status: NodeStatus
    error: NodeError | None
    at: datetime | None
    chained: int | None
    """The run the final event chains to."""


@dataclass
class _Walk:
    runs: dict[int, _OpenRun]
    owner: dict[int, int]
    """Event id -> id of the run it belongs to."""
    event_types: dict[int, str] = field(default_factory=dict)
    ending: _Ending | None = None
    started_at: datetime | None = None
    redrive_count: int = 0

    def up(self, run_id: int | None) -> Iterator[_OpenRun]:
        """The run and its enclosing Maps and Parallels, innermost first."""
        while run_id is not None:
            run = self.runs[run_id]
            yield run
            run_id = run.parent

    def innermost_failure(self, run_id: int | None) -> int | None:
        """Down from a failed Map or Parallel to the run its failure came from."""
        seen: set[int] = set()
        while run_id is not None and run_id not in seen:
            seen.add(run_id)
            inner = self.runs[run_id].failed_from
            if inner is None:
                return run_id
            run_id = inner
        return run_id

    def enter(
        self, event_id: int, previous: int, state_type: str, event: Mapping[str, Any], cap: int
    ) -> None:
        previous_run = self.owner.get(previous)
        if previous_run is None:
            parent = None
        elif self.event_types.get(previous) in _CONTAINER_STARTS:
            parent = previous_run
        else:  # entered after a state of the same level
            parent = self.runs[previous_run].parent
        details = event.get("stateEnteredEventDetails") or {}
        self.runs[event_id] = _OpenRun(
            id=event_id,
            name=str(details.get("name")),
            type=state_type,
            parent=parent,
            started_at=event.get("timestamp"),
            input=_data(details, "input", cap),
        )
        self.owner[event_id] = event_id

    def exit(self, event_id: int, chained: int | None, event: Mapping[str, Any], cap: int) -> None:
        details = event.get("stateExitedEventDetails") or {}
        name = str(details.get("name"))
        run = next((r for r in self.up(chained) if r.name == name and not r.exited), None)
        if run is None and chained is None:  # the chain is cut: the newest open run of that name
            run = next((r for r in reversed(self.runs.values()) if r.name == name and not r.exited), None)
        if run is not None:
            run.exited, run.ended_at = True, event.get("timestamp")
            run.output = _data(details, "output", cap)
            self.owner[event_id] = run.id

    def redrive(self, event: Mapping[str, Any]) -> None:
        """The runs the execution ended in stay as they ended; the redriven execution runs new ones."""
        for run in self.runs.values():
            if not run.exited and run.ended_as is None and self.ending is not None:
                run.ended_as, run.ended_at = _status(run, self.ending), self.ending.at
        self.ending = None
        count = (event.get("executionRedrivenEventDetails") or {}).get("redriveCount")
        self.redrive_count = count if isinstance(count, int) else self.redrive_count + 1

    def container_event(
        self, event_id: int, previous: int, event_type: str, event: Mapping[str, Any]
    ) -> None:
        chained = self.owner.get(previous)
        if chained is None:
            return
        inner = self.runs[chained]
        # After the Map's or Parallel's own events the chain is at the container itself; after a state
        # inside it (its exit, a failed attempt), at that state, whose container is further up.
        previous_type = self.event_types.get(previous, "")
        at_container = previous_type in _CONTAINER_OPENINGS or (
            previous_type.startswith(tuple(_CONTAINER_EVENTS)) and not previous_type.endswith(EXITED)
        )
        kind = next(t for prefix, t in _CONTAINER_EVENTS.items() if event_type.startswith(prefix))
        start = chained if at_container else inner.parent
        container = next((r for r in self.up(start) if r.type == kind), None)
        if container is None:
            return
        self.owner[event_id] = container.id
        if not at_container and inner.failed:  # the failure the container's own failure will come from
            container.error, container.failed_from = inner.error, inner.id
        if event_type not in _CONTAINER_ENDS:
            return
        container.failed = event_type.endswith("Failed")
        for run in self.runs.values():
            if not run.exited and not run.stopped and any(r.id == container.id for r in self.up(run.parent)):
                run.stopped, run.ended_at = True, event.get("timestamp")

    def end(self, event_id: int, event_type: str, chained: int | None, event: Mapping[str, Any]) -> None:
        status = EXECUTION_ENDS[event_type]
        self.ending = _Ending(status, execution_failure_of(event), event.get("timestamp"), chained)
        failed_in = self.innermost_failure(chained) if status in _FAILED_ENDS else None
        if failed_in is not None:
            self.owner[event_id] = failed_in


_FAILED_ENDS = frozenset({NodeStatus.FAILED, NodeStatus.TIMED_OUT})


def _walk(events: Iterable[Mapping[str, Any]], io_cap_bytes: int) -> _Walk:
    walk = _Walk(runs={}, owner={})
    for event in sorted(events, key=lambda event: int(event.get("id") or 0)):
        event_id, event_type = int(event.get("id") or 0), str(event.get("type", ""))
        walk.event_types[event_id] = event_type
        previous = int(event.get("previousEventId") or 0)
        chained = walk.owner.get(previous)
        if (state_type := _state_type(event_type, ENTERED)) is not None:
            walk.enter(event_id, previous, state_type, event, io_cap_bytes)
        elif _state_type(event_type, EXITED) is not None:
            walk.exit(event_id, chained, event, io_cap_bytes)
        elif event_type.startswith(tuple(_CONTAINER_EVENTS)):
            walk.container_event(event_id, previous, event_type, event)
        elif event_type == "ExecutionRedriven":
            walk.redrive(event)
        elif event_type == "ExecutionStarted":
            walk.started_at = event.get("timestamp")
        elif chained is not None:
            walk.owner[event_id] = chained
            _attempt(walk.runs[chained], event_type, event)
        if event_type in EXECUTION_ENDS:
            walk.end(event_id, event_type, chained, event)
    return walk


@dataclass(frozen=True)
class StateRef:
    name: str
    type: str


@dataclass(frozen=True)
class Reading:
    """What a history says, from one walk."""

    runs: list[NodeRun]
    """Every state run, in the order they were entered."""
    states: dict[int, StateRef]
    """The state each event belongs to, by event id (events of the execution itself have none)."""
    ended: NodeStatus | None
    """How the execution ended by its final event; None while it runs (or runs again, redriven)."""
    ended_at: datetime | None
    started_at: datetime | None
    error: NodeError | None
    """The execution's error, when it failed or timed out."""
    failed_node: str | None
    """The state the failure is pinned on, when it failed or timed out (see the module's rules)."""
    last_event_id: int
    redrive_count: int = 0
    """The attempt the history is at: its last ExecutionRedriven's redriveCount (0 before any, or when
    the events read begin after it)."""


def read(events: Iterable[Mapping[str, Any]], io_cap_bytes: int = 0) -> Reading:
    """The history read once, by the module's rules."""
    walk = _walk(events, io_cap_bytes)
    runs = [_finished(run, walk.ending) for run in walk.runs.values()]
    ending = walk.ending
    failed_node = None
    if ending is not None and ending.status in _FAILED_ENDS:
        failed_in = walk.innermost_failure(ending.chained)
        if failed_in is not None:
            failed_node = walk.runs[failed_in].name
        elif runs:
            failed_node = runs[-1].name
    return Reading(
        runs=runs,
        states={
            event_id: StateRef(walk.runs[run].name, walk.runs[run].type)
            for event_id, run in walk.owner.items()
        },
        ended=ending.status if ending else None,
        ended_at=ending.at if ending else None,
        started_at=walk.started_at,
        error=ending.error if ending else None,
        failed_node=failed_node,
        last_event_id=max(walk.event_types, default=0),
        redrive_count=walk.redrive_count,
    )


def node_runs(events: Iterable[Mapping[str, Any]], io_cap_bytes: int = 0) -> list[NodeRun]:
    """Every state run in the history, in the order they were entered; see the module's rules."""
    return read(events, io_cap_bytes).runs


def failure_of(event: Mapping[str, Any]) -> NodeError | None:
    """The error of a failed task attempt, or None for any other event."""
    details_key = ATTEMPT_FAILURES.get(str(event.get("type", "")))
    return _error(event.get(details_key) or {}, str(event["type"])) if details_key else None


def execution_failure_of(event: Mapping[str, Any]) -> NodeError | None:
    """The error of an execution that failed or timed out, or None for any other event. Without an
    error name, a timeout is States.Timeout and a failure ExecutionFailed."""
    event_type = str(event.get("type", ""))
    details_key = EXECUTION_FAILURES.get(event_type)
    if details_key is None:
        return None
    default = "States.Timeout" if event_type == "ExecutionTimedOut" else "ExecutionFailed"
    return _error(event.get(details_key) or {}, default)


def _attempt(run: _OpenRun, event_type: str, event: Mapping[str, Any]) -> None:
    if event_type in ATTEMPTS:
        # A retry: no longer failed, though its last error stays worth showing while it runs.
        run.attempts, run.failed = run.attempts + 1, False
    elif (failure := failure_of(event)) is not None:
        run.failed, run.error = True, failure
    elif event_type in _ATTEMPT_SUCCESSES:
        run.failed, run.error = False, None


def _status(run: _OpenRun, ending: _Ending | None) -> tuple[NodeStatus, NodeError | None]:
    if run.ended_as is not None:
        return run.ended_as
    if run.exited:
        return (NodeStatus.FAILED, run.error) if run.failed else (NodeStatus.SUCCEEDED, None)
    if run.failed and (run.stopped or ending is not None):
        return NodeStatus.FAILED, run.error
    if run.stopped:
        return NodeStatus.CANCELLED, None
    if ending is None:  # a failed attempt with no retry scheduled yet is still running
        return NodeStatus.RUNNING, run.error
    if ending.status is NodeStatus.FAILED:
        return (NodeStatus.FAILED, ending.error) if ending.chained == run.id else (NodeStatus.CANCELLED, None)
    return ending.status, None


def _finished(run: _OpenRun, ending: _Ending | None) -> NodeRun:
    status, error = _status(run, ending)
    ended_at = run.ended_at
    if ended_at is None and status is not NodeStatus.RUNNING and ending is not None:
        ended_at = ending.at
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
        exited=run.exited,
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


def _token_scope(execution_id: str) -> str:
    # A page token of one execution's history is no token of another's.
    return f"history/{execution_id}"


def position(next_token: str | None, execution_id: str, key: bytes) -> int:
    """The id of the last run a page showed, from its token; 0 for the first page. InvalidNextToken
    unless the token is one `page` gave for this execution's history."""
    if next_token is None:
        return 0
    after = tokens.decode(next_token, key=key, scope=_token_scope(execution_id)).get("after")
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise InvalidNextToken("nextToken is not a token of this execution's history")
    return after


def page(
    execution_id: str, runs: list[NodeRun], after: int, limit: int, include_io: bool, key: bytes
) -> ExecutionHistory:
    """The runs after the position `after`, at most `limit` of them, and the token for the rest."""
    remaining = [run for run in runs if run.id > after]
    shown = remaining[:limit]
    more = len(remaining) > limit
    next_token = (
        tokens.encode({"after": shown[-1].id}, key=key, scope=_token_scope(execution_id)) if more else None
    )
    return ExecutionHistory(
        execution_id=execution_id, items=[_entry(run, include_io) for run in shown], next_token=next_token
    )
