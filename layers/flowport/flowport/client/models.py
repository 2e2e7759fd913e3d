"""What the client returns: the API's documents as typed, read-only values. Each keeps the whole JSON it was
read from (`raw`), so a field the API adds later is there before this module names it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED"})
FINAL_EVENTS = frozenset({"completed", "failed", "timed_out", "cancelled"})


@dataclass(frozen=True)
class Progress:
    progress: int
    current_node: str | None
    completed_nodes: int
    total_nodes: int
    retry_count: int

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Progress:
        return cls(
            progress=int(document.get("progress") or 0),
            current_node=document.get("currentNode"),
            completed_nodes=int(document.get("completedNodes") or 0),
            total_nodes=int(document.get("totalNodes") or 0),
            retry_count=int(document.get("retryCount") or 0),
        )


@dataclass(frozen=True)
class Execution:
    """An execution as a start, a status read, a search or a final event shows it (a start's and a
    search's summary has no input, output or progress)."""

    execution_id: str
    workflow: str
    version: int
    status: str
    priority: int = 0
    correlation_id: str | None = None
    created_at: str | None = None
    output: Any = None
    error: dict[str, Any] | None = None
    status_variables: dict[str, Any] = field(default_factory=dict)
    progress: Progress | None = None
    replayed: bool = False  # a start's (retry's, rerun's) answer: its idempotency key's execution, again
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES

    @classmethod
    def answered(cls, document: dict[str, Any], headers: Mapping[str, str]) -> Execution:
        """A start's (retry's, rerun's) answer: a replay says so in Idempotent-Replayed."""
        replayed = headers.get("Idempotent-Replayed", "").lower() == "true"
        return dataclasses.replace(cls.from_json(document), replayed=replayed)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Execution:
        has_progress = "progress" in document or "currentNode" in document
        return cls(
            execution_id=str(document["executionId"]),
            workflow=str(document.get("workflow", "")),
            version=int(document.get("version") or 0),
            status=str(document.get("status", "")),
            priority=int(document.get("priority") or 0),
            correlation_id=document.get("correlationId"),
            created_at=document.get("createdAt"),
            output=document.get("output"),
            error=document.get("error"),
            status_variables=dict(document.get("statusVariables") or {}),
            progress=Progress.from_json(document) if has_progress else None,
            raw=document,
        )


@dataclass(frozen=True)
class NodeRun:
    """One run of a state, from GET /executions/{id}/history."""

    name: str
    type: str
    status: str
    started_at: str | None
    ended_at: str | None
    attempts: int
    error: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> NodeRun:
        return cls(
            name=str(document["name"]),
            type=str(document.get("type", "")),
            status=str(document.get("status", "")),
            started_at=document.get("startedAt"),
            ended_at=document.get("endedAt"),
            attempts=int(document.get("attempts") or 0),
            error=document.get("error"),
            raw=document,
        )


@dataclass(frozen=True)
class Event:
    """One event of an execution's stream: `kind` is its SSE event name, `id` the position to resume
    after it (Last-Event-ID)."""

    kind: str
    id: str
    data: dict[str, Any] = field(repr=False)

    @property
    def final(self) -> bool:
        return self.kind in FINAL_EVENTS


@dataclass(frozen=True)
class NodeEvent(Event):
    """node_started, node_completed or node_failed."""

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    @property
    def error(self) -> dict[str, Any] | None:
        return self.data.get("error")


@dataclass(frozen=True)
class ProgressEvent(Event):
    @property
    def progress(self) -> Progress:
        return Progress.from_json(self.data)


@dataclass(frozen=True)
class StatusEvent(Event):
    @property
    def status(self) -> str:
        return str(self.data.get("status", ""))


@dataclass(frozen=True)
class VariablesEvent(Event):
    @property
    def status_variables(self) -> dict[str, Any]:
        return dict(self.data.get("statusVariables") or {})


@dataclass(frozen=True)
class FinalEvent(Event):
    """The last event: the execution's status document as it ended."""

    @property
    def execution(self) -> Execution:
        return Execution.from_json(self.data)


_EVENT_TYPES: dict[str, type[Event]] = {
    "node_started": NodeEvent,
    "node_completed": NodeEvent,
    "node_failed": NodeEvent,
    "progress": ProgressEvent,
    "status": StatusEvent,
    "variables": VariablesEvent,
    **dict.fromkeys(FINAL_EVENTS, FinalEvent),
}


def event_of(kind: str, event_id: str, data: str) -> Event:
    """The typed event of an SSE message; an unknown kind (one a later API adds) as a plain Event."""
    parsed = json.loads(data) if data else {}
    return _EVENT_TYPES.get(kind, Event)(kind, event_id, parsed if isinstance(parsed, dict) else {})
