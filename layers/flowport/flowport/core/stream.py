"""The event stream of an execution, as Server-Sent Events: which events come after a client's last one.

Pure: the caller passes the execution as it is now (its status document and the node log of its Step
Functions history, flowport.core.live); this module decides what the client has not seen yet.

Two kinds of events:

- Node events come from the history, one per history event that has one: `node_started` (a state was
  entered), `node_completed` (it exited) and `node_failed` (a task attempt failed, a retry or a Catch
  may follow; or the execution failed, on the node its error names). They are facts that never change,
  so each is sent exactly once, in history order.
- Snapshots describe the execution now: `status` ({status}), `progress` ({progress, currentNode,
  completedNodes, totalNodes, retryCount}) and `variables` ({statusVariables}). Each is sent when it
  differs from the last one the client got: a client sees every change it was connected for, and after
  a reconnect the latest value of whatever changed meanwhile (values in between are not replayed).
- Last, when the execution has finished: `completed`, `failed`, `timed_out` or `cancelled`, whose data
  is the execution's status document as `GET /executions/{id}` returns it. Nothing follows it.

Every event's id is the client's position after it: `<history event id>.<status digest>.<progress
digest>.<variables digest>`, ending `.end` after the final event, then signed for its execution
(EventIds). A client that reconnects with that id as `Last-Event-ID` gets exactly what it has not seen;
ids are opaque to clients, and one the stream did not send (forged, cut short, or another execution's)
is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from flowport.core import tokens
from flowport.core.errors import InvalidLastEventId
from flowport.core.models import ExecutionDetail, ExecutionStatus, NodeEvent

_CURSOR = re.compile(r"^([0-9]{1,9})\.([0-9a-f]{8})?\.([0-9a-f]{8})?\.([0-9a-f]{8})?(\.end)?$")
# 96 bits: ids are sent with every event, and no client finds one of its own making by trying.
EVENT_ID_MAC_BYTES = 12
# The longest position (40 characters), a dot and the signature (16).
MAX_EVENT_ID_LENGTH = 64
FINAL_EVENTS = {
    ExecutionStatus.COMPLETED: "completed",
    ExecutionStatus.FAILED: "failed",
    ExecutionStatus.TIMED_OUT: "timed_out",
    ExecutionStatus.CANCELLED: "cancelled",
}


SNAPSHOTS = ("status", "progress", "variables")


@dataclass(frozen=True)
class Cursor:
    """What a client has seen: history events up to `event_id`, and a digest of the last snapshot of
    each kind in SNAPSHOTS ('' for none yet)."""

    event_id: int = 0
    digests: tuple[str, str, str] = ("", "", "")
    final: bool = False

    def __str__(self) -> str:
        position = ".".join((str(self.event_id), *self.digests))
        return position + ".end" if self.final else position

    def seen(self, kind: int, digest: str) -> Cursor:
        digests = list(self.digests)
        digests[kind] = digest
        return replace(self, digests=(digests[0], digests[1], digests[2]))


@dataclass(frozen=True)
class EventIds:
    """The event ids of one execution's stream: a position, signed with the stack's token key for this
    execution (flowport.core.tokens), so that the stream reads back only ids it sent itself."""

    key: bytes
    execution_id: str

    @property
    def _scope(self) -> str:
        return f"events/{self.execution_id}"

    def of(self, cursor: Cursor) -> str:
        return tokens.signed(self.key, self._scope, str(cursor), EVENT_ID_MAC_BYTES)

    def parse(self, last_event_id: str | None) -> Cursor:
        """The position a `Last-Event-ID` names; the start for none."""
        if not last_event_id:
            return Cursor()
        position = tokens.unsigned(self.key, self._scope, last_event_id.strip(), EVENT_ID_MAC_BYTES)
        matched = _CURSOR.match(position) if position is not None else None
        if matched is None:
            raise InvalidLastEventId("Last-Event-ID is not an id this execution's stream sent")
        event_id, status, progress, variables, final = matched.groups()
        return Cursor(int(event_id), (status or "", progress or "", variables or ""), final is not None)


@dataclass(frozen=True)
class StreamEvent:
    type: str
    id: str
    data: Any


def _iso(moment: datetime) -> str:
    """As every other time in the API: ISO 8601 in UTC with a `Z`."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _digest(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def _snapshots(detail: ExecutionDetail) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The data of each kind of snapshot, in the order of SNAPSHOTS."""
    # A field without a value is left out, as in every body of the API (flowport.api.responses).
    progress = detail.model_dump(
        mode="json",
        by_alias=True,
        exclude_none=True,
        include={"progress", "current_node", "completed_nodes", "total_nodes", "retry_count"},
    )
    variables = detail.model_dump(mode="json", by_alias=True, include={"status_variables"})
    return {"status": detail.status.value}, progress, variables


@dataclass(frozen=True)
class NodeLog:
    """The node events of an execution's history after some point, and how far the history goes."""

    events: Sequence[NodeEvent]
    last_event_id: int
    ended: bool
    """The history shows the execution's end (or it has none: it never started)."""


def _node_data(event: NodeEvent) -> dict[str, Any]:
    data: dict[str, Any] = {"name": event.name, "type": event.type}
    if event.at is not None:
        data["at"] = _iso(event.at)
    if event.error is not None:
        data["error"] = {"code": event.error.code, "message": event.error.message}
    return data


def events_after(
    cursor: Cursor, detail: ExecutionDetail, log: NodeLog, ids: EventIds
) -> tuple[list[StreamEvent], Cursor]:
    """The events a client at `cursor` has not seen, and its position after them."""
    if cursor.final:
        return [], cursor
    events: list[StreamEvent] = []
    for node_event in log.events:
        if node_event.id <= cursor.event_id:
            continue
        cursor = replace(cursor, event_id=node_event.id)
        events.append(StreamEvent(node_event.kind, ids.of(cursor), _node_data(node_event)))
    cursor = replace(cursor, event_id=max(cursor.event_id, log.last_event_id))
    for kind, data in enumerate(_snapshots(detail)):
        digest = _digest(data)
        if cursor.digests[kind] != digest:
            cursor = cursor.seen(kind, digest)
            events.append(StreamEvent(SNAPSHOTS[kind], ids.of(cursor), data))
    # The final event waits for the history's own end, so that no node event can come after it.
    if (final := FINAL_EVENTS.get(detail.status)) is not None and log.ended:
        cursor = replace(cursor, final=True)
        document = detail.model_dump(mode="json", by_alias=True, exclude_none=True)
        events.append(StreamEvent(final, ids.of(cursor), document))
    return events, cursor


def render(events: list[StreamEvent], retry_ms: int) -> str:
    """The events as a text/event-stream body; `retry` tells the client how soon to reconnect."""
    lines = [
        f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(event.data, separators=(',', ':'))}\n\n"
        for event in events
    ]
    if not events:
        lines.append(": no new events\n\n")  # a comment: shows the stream is alive
    lines.append(f"retry: {retry_ms}\n\n")
    return "".join(lines)


def wait_for_events(
    observe: Callable[[Cursor], tuple[ExecutionDetail, NodeLog]],
    cursor: Cursor,
    ids: EventIds,
    *,
    max_seconds: float,
    poll_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[StreamEvent]:
    """Look every `poll_seconds` until there is something new, for at most `max_seconds`.

    Returns as soon as a look finds events: behind API Gateway a Lambda response arrives whole, so
    holding on to events would only delay them; the client's reconnect continues the stream.
    """
    deadline = clock() + max_seconds
    while True:
        detail, log = observe(cursor)
        events, _ = events_after(cursor, detail, log, ids)
        if events or clock() + poll_seconds > deadline:
            return events
        sleep(poll_seconds)
