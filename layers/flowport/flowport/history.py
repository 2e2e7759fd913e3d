"""Node history: one entry per executed state, from an execution's Step Functions history.

Pure: no AWS calls. The caller passes the whole history (any order; it is read oldest first by id).

The rules:

- Every "...StateEntered" event opens a node run; states that ran many times (a loop, a Map's items)
  give one run each. Runs are ordered by when they were entered, and named by that event's id, which
  never changes: pages are cut after a run's id.
- An event belongs to the run its previousEventId chain leads back to (Step Functions chains a task's
  scheduling, start, failure, retry and success to the state that entered it). A state entered from a
  Map iteration's or a Parallel's start is inside that Map or Parallel; a state entered after another
  is where that one was. Map and Parallel events (...StateStarted, ...StateSucceeded, ...StateFailed,
  MapIteration...) belong to the nearest Map or Parallel up that chain, and a "...StateExited" closes
  the nearest open run of its name up it (a Map's exit chains to its last item's events, not to itself).
- attempts: the task attempts scheduled in the run (1 + its retries); 0 for states that are not tasks.
- status: a run that exited is SUCCEEDED, or FAILED when its last attempt failed or, for a Map or
  Parallel, when it failed, and a Catch led on. A run still open when its Map or Parallel ended was
  stopped: CANCELLED (FAILED if its own last attempt failed). A run never exited is FAILED when its last
  attempt failed; otherwise RUNNING while the execution runs, and once the execution ended FAILED for
  the run it failed in (a Fail state, a failed Map or Parallel), else TIMED_OUT or CANCELLED. After a
  redrive, the runs it left open stay as they ended, and the execution runs new ones.
- error: the last failed attempt's error and cause (a Lambda's error JSON gives its errorMessage); for
  a failed Map or Parallel, that of the run its failure came from; for the run the execution failed in,
  the execution's error.
- input and output: the state's input as entered and output as exited, when asked for, each dropped
  (with `...Truncated: true`) above a size cap, as Step Functions itself drops data over 256 KiB.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flowport import tokens
from flowport.errors import InvalidNextToken
from flowport.models import ExecutionError, ExecutionHistory, NodeEntry, NodeStatus
from flowport.progress import ATTEMPT_FAILURES, ATTEMPTS, EXECUTION_FAILURES, cause_message

_ENTERED = "StateEntered"
_EXITED = "StateExited"
_ATTEMPT_SUCCESSES = frozenset({"TaskSucceeded", "LambdaFunctionSucceeded", "ActivitySucceeded"})


# How the execution ended, by its final event, and what that makes of a run still open.
EXECUTION_ENDS = {
    "ExecutionSucceeded": NodeStatus.SUCCEEDED,
    "ExecutionFailed": NodeStatus.FAILED,
    "ExecutionTimedOut": NodeStatus.TIMED_OUT,
    "ExecutionAborted": NodeStatus.CANCELLED,
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
    ended_as: tuple[NodeStatus, NodeError | None] | None = None  # set when a redrive left it behind


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
_Ending = tuple[NodeStatus, NodeError | None, datetime | None, int | None]


@dataclass
class _Walk:
    runs: dict[int, _OpenRun]
    owner: dict[int, int]
    """Event id -> id of the run it belongs to."""
    event_types: dict[int, str] = field(default_factory=dict)
    ending: _Ending | None = None
    """How the execution ended, when, and the run its final event chains to."""

    def up(self, run_id: int | None) -> Iterator[_OpenRun]:
        """The run and its enclosing Maps and Parallels, innermost first."""
        while run_id is not None:
            run = self.runs[run_id]
            yield run
            run_id = run.parent

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
        if run is not None:
            run.exited, run.ended_at = True, event.get("timestamp")
            run.output = _data(details, "output", cap)
            self.owner[event_id] = run.id

    def redrive(self) -> None:
        """The runs the execution ended in stay as they ended; the redriven execution runs new ones."""
        for run in self.runs.values():
            if not run.exited and run.ended_as is None and self.ending is not None:
                run.ended_as, run.ended_at = _status(run, self.ending), self.ending[2]
        self.ending = None

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
            previous_type.startswith(tuple(_CONTAINER_EVENTS)) and not previous_type.endswith(_EXITED)
        )
        kind = next(t for prefix, t in _CONTAINER_EVENTS.items() if event_type.startswith(prefix))
        start = chained if at_container else inner.parent
        container = next((r for r in self.up(start) if r.type == kind), None)
        if container is None:
            return
        self.owner[event_id] = container.id
        if not at_container and inner.failed:  # the failure the container's own failure will come from
            container.error = inner.error
        if event_type not in _CONTAINER_ENDS:
            return
        container.failed = event_type.endswith("Failed")
        for run in self.runs.values():
            if not run.exited and not run.stopped and any(r.id == container.id for r in self.up(run.parent)):
                run.stopped, run.ended_at = True, event.get("timestamp")


def _walk(events: Iterable[Mapping[str, Any]], io_cap_bytes: int) -> _Walk:
    walk = _Walk(runs={}, owner={})
    for event in sorted(events, key=lambda event: int(event.get("id") or 0)):
        event_id, event_type = int(event.get("id") or 0), str(event.get("type", ""))
        walk.event_types[event_id] = event_type
        previous = int(event.get("previousEventId") or 0)
        chained = walk.owner.get(previous)
        if (state_type := _state_type(event_type, _ENTERED)) is not None:
            walk.enter(event_id, previous, state_type, event, io_cap_bytes)
        elif _state_type(event_type, _EXITED) is not None:
            walk.exit(event_id, chained, event, io_cap_bytes)
        elif event_type.startswith(tuple(_CONTAINER_EVENTS)):
            walk.container_event(event_id, previous, event_type, event)
        elif event_type == "ExecutionRedriven":
            walk.redrive()
        elif chained is not None:
            walk.owner[event_id] = chained
            _attempt(walk.runs[chained], event_type, event)
        if event_type in EXECUTION_ENDS:
            ending = EXECUTION_ENDS[event_type]
            walk.ending = (ending, execution_failure_of(event), event.get("timestamp"), chained)
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
    details_key = ATTEMPT_FAILURES.get(str(event.get("type", "")))
    return _error(event.get(details_key) or {}, str(event["type"])) if details_key else None


def execution_failure_of(event: Mapping[str, Any]) -> NodeError | None:
    """The error of an execution that failed or timed out, or None for any other event."""
    details_key = EXECUTION_FAILURES.get(str(event.get("type", "")))
    return _error(event.get(details_key) or {}, str(event["type"])) if details_key else None


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
    execution_status, execution_error, _, failed_in = ending
    if execution_status is NodeStatus.FAILED:
        return (NodeStatus.FAILED, execution_error) if failed_in == run.id else (NodeStatus.CANCELLED, None)
    return execution_status, None


def _finished(run: _OpenRun, ending: _Ending | None) -> NodeRun:
    status, error = _status(run, ending)
    ended_at = run.ended_at
    if ended_at is None and status is not NodeStatus.RUNNING and ending is not None:
        ended_at = ending[2]
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


def position(next_token: str | None) -> int:
    """The id of the last run a page showed, from its token; 0 for the first page."""
    if next_token is None:
        return 0
    after = tokens.decode(next_token).get("after")
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise InvalidNextToken("nextToken is not a token of this execution's history")
    return after


def page(
    execution_id: str, runs: list[NodeRun], after: int, limit: int, include_io: bool
) -> ExecutionHistory:
    """The runs after the position `after`, at most `limit` of them, and the token for the rest."""
    remaining = [run for run in runs if run.id > after]
    shown = remaining[:limit]
    more = len(remaining) > limit
    return ExecutionHistory(
        execution_id=execution_id,
        nodes=[_entry(run, include_io) for run in shown],
        next_token=tokens.encode({"after": shown[-1].id}) if more else None,
    )
