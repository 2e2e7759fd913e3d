"""The live view of a running execution: what one read of its history says, shared for a moment.

Every status read and event stream of a running execution needs what Step Functions says of it now, and
GetExecutionHistory's quota (about 5 calls a second, refilled per account and region) is shared by them
all. So one read makes a view that every reader takes while it is fresh; the first reader after it ages
reads the history again (flowport.usecases.live). History reads per execution are then bounded by time,
not by how many watch.

The rules:

- A view is fresh for `fresh_seconds` after its history read; a view whose history has ended (`final`)
  never goes stale. A reader that finds the view stale claims the refresh, so that one reader reads the
  history while the others keep the stale view, at most that much older.
- The view is made from the newest page of the history (at most 1000 events) by flowport.core.history:
  status, start and stop, the error and the node it is pinned on, progress counted over that page, and
  the node events the event stream sends. `events_from` says from which history event on the node events
  are complete (the page's oldest, or 0 for a whole history); a stream whose client is further behind
  reads the whole history once to catch up.
- Node events keep error messages up to MAX_MESSAGE_CHARACTERS (cut with an ellipsis), and a view keeps
  only its newest node events when they would not fit MAX_VIEW_BYTES.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from flowport.core import history
from flowport.core.models import (
    ExecutionError,
    ExecutionStatus,
    LiveView,
    NodeEvent,
    NodeStatus,
    ProgressSnapshot,
)
from flowport.core.progress import progress_of_reading
from flowport.core.stream import NodeLog

MAX_MESSAGE_CHARACTERS = 1024
# A view is kept in one DynamoDB item, whose limit is 400 KB.
MAX_VIEW_BYTES = 300 * 1024

# How the history's final event ended the execution, in flowport's words.
_ENDED_AS = {
    NodeStatus.SUCCEEDED: ExecutionStatus.COMPLETED,
    NodeStatus.FAILED: ExecutionStatus.FAILED,
    NodeStatus.TIMED_OUT: ExecutionStatus.TIMED_OUT,
    NodeStatus.CANCELLED: ExecutionStatus.CANCELLED,
}
_CONTAINER_FAILURES = frozenset({"MapStateFailed", "ParallelStateFailed"})


def _message(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARACTERS else text[: MAX_MESSAGE_CHARACTERS - 1] + "…"


def _node_event(event: Mapping[str, Any], states: Mapping[int, history.StateRef]) -> NodeEvent | None:
    event_id, event_type = int(event.get("id") or 0), str(event.get("type", ""))
    state = states.get(event_id)
    if state is None:
        return None
    at = event.get("timestamp")
    base = {"id": event_id, "name": state.name, "type": state.type, "at": at}
    if event_type.endswith(history.ENTERED):
        return NodeEvent(kind="node_started", **base)
    if event_type.endswith(history.EXITED):
        return NodeEvent(kind="node_completed", **base)
    failure = history.failure_of(event) or history.execution_failure_of(event)
    if failure is not None:
        error = ExecutionError(code=failure.code, message=_message(failure.message))
        return NodeEvent(kind="node_failed", error=error, **base)
    if event_type in _CONTAINER_FAILURES:  # the failure itself was its inner state's node_failed
        return NodeEvent(kind="node_failed", **base)
    return None


def node_events(events: Iterable[Mapping[str, Any]], reading: history.Reading) -> list[NodeEvent]:
    """The node events of these history events, oldest first, attributed to states by `reading`."""
    ordered = sorted(events, key=lambda event: int(event.get("id") or 0))
    return [found for event in ordered if (found := _node_event(event, reading.states)) is not None]


def view_of(
    events: Sequence[Mapping[str, Any]],
    definition: dict[str, Any],
    observed_at: float,
    whole: bool = False,
) -> LiveView:
    """The view the newest page of a history gives (`whole`: the page is the whole history)."""
    reading = history.read(events)
    progress = progress_of_reading(definition, reading, None)
    failure = progress.failure
    oldest = min((int(event.get("id") or 0) for event in events), default=0)
    return LiveView(
        observed_at=observed_at,
        status=_ENDED_AS[reading.ended] if reading.ended else ExecutionStatus.RUNNING,
        started_at=reading.started_at,
        stopped_at=reading.ended_at,
        error=ExecutionError(code=failure.code, message=failure.message, node=failure.node)
        if failure
        else None,
        progress=ProgressSnapshot(
            progress=progress.progress,
            current_node=progress.current_node,
            completed_nodes=progress.completed_nodes,
            total_nodes=progress.total_nodes,
            retry_count=progress.retry_count,
        ),
        node_events=node_events(events, reading),
        events_from=0 if whole or oldest <= 1 else oldest,
        last_event_id=reading.last_event_id,
        final=reading.ended is not None,
        redrive_count=reading.redrive_count,
    )


def node_log(events: Sequence[Mapping[str, Any]]) -> NodeLog:
    """The node log of a whole history; an execution with none (it never started) has ended."""
    reading = history.read(events)
    return NodeLog(
        node_events(events, reading), reading.last_event_id, ended=reading.ended is not None or not events
    )


def log_of(view: LiveView) -> NodeLog:
    return NodeLog(view.node_events, view.last_event_id, ended=view.final)


def is_fresh(view: LiveView, now: float, fresh_seconds: float) -> bool:
    return view.final or now - view.observed_at < fresh_seconds


def covers(view: LiveView, after_event_id: int) -> bool:
    """Whether the view holds every node event after this history event id."""
    return after_event_id + 1 >= view.events_from


def fitted(view: LiveView, size_of: Callable[[LiveView], int]) -> LiveView:
    """The view with only as many of its newest node events as fit MAX_VIEW_BYTES (`size_of(view)`)."""
    while view.node_events and size_of(view) > MAX_VIEW_BYTES:
        kept = view.node_events[max(1, len(view.node_events) // 2) :]
        events_from = kept[0].id if kept else view.last_event_id + 1
        view = view.model_copy(update={"node_events": kept, "events_from": events_from})
    return view
