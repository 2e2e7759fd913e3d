"""Conductor compatibility: how flowport's executions read as Conductor's workflows, and Conductor's search
query language as flowport's filters. Pure rules, no AWS; flowport.api.routes.conductor serves them.

flowport keeps its own rules: a start, a read, a cancel, a retry, a rerun and a search under /api are the
same use cases as under /workflows and /executions. This module only translates their names and shapes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from flowport.core.errors import BadRequest
from flowport.core.models import (
    ConflictStrategy,
    ExecutionDetail,
    ExecutionStatus,
    ExecutionSummary,
    NodeEntry,
    NodeStatus,
    absent_rather_than_null,
)

# Conductor's workflow statuses. QUEUED is flowport's admission queue: to Conductor the workflow has
# started and is waiting, which it calls RUNNING. PAUSED is never reached: flowport cannot pause.
WORKFLOW_STATUS: dict[ExecutionStatus, str] = {
    ExecutionStatus.QUEUED: "RUNNING",
    ExecutionStatus.RUNNING: "RUNNING",
    ExecutionStatus.COMPLETED: "COMPLETED",
    ExecutionStatus.FAILED: "FAILED",
    ExecutionStatus.TIMED_OUT: "TIMED_OUT",
    ExecutionStatus.CANCELLED: "TERMINATED",
}
CONDUCTOR_WORKFLOW_STATUSES = ("RUNNING", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED", "PAUSED")

# Conductor's task statuses, for one state run of flowport's node history.
TASK_STATUS: dict[NodeStatus, str] = {
    NodeStatus.RUNNING: "IN_PROGRESS",
    NodeStatus.SUCCEEDED: "COMPLETED",
    NodeStatus.FAILED: "FAILED",
    NodeStatus.TIMED_OUT: "TIMED_OUT",
    NodeStatus.CANCELLED: "CANCELED",  # Conductor spells the task status with one L
}

# Conductor's system task type closest to each Step Functions state type; a state type without one
# keeps its own name, upper-cased (Pass: PASS).
TASK_TYPE: dict[str, str] = {
    "Task": "SIMPLE",
    "Parallel": "FORK_JOIN",
    "Map": "FORK_JOIN_DYNAMIC",
    "Choice": "SWITCH",
    "Wait": "WAIT",
    "Succeed": "TERMINATE",
    "Fail": "TERMINATE",
}

# Conductor's idempotency strategies are flowport's own conflict strategies, by the same names; Conductor
# takes FAIL when a key comes without one.
DEFAULT_IDEMPOTENCY_STRATEGY = ConflictStrategy.FAIL


def workflow_status(status: ExecutionStatus) -> str:
    return WORKFLOW_STATUS[status]


def execution_statuses(conductor_status: str) -> tuple[ExecutionStatus, ...]:
    """flowport's statuses that read as this Conductor status (none for PAUSED); 400 for an unknown one."""
    wanted = conductor_status.upper()
    if wanted not in CONDUCTOR_WORKFLOW_STATUSES:
        raise BadRequest(
            f"Unknown workflow status '{conductor_status}': one of {', '.join(CONDUCTOR_WORKFLOW_STATUSES)}"
        )
    return tuple(status for status, name in WORKFLOW_STATUS.items() if name == wanted)


def task_status(status: NodeStatus) -> str:
    return TASK_STATUS[status]


def task_type(state_type: str) -> str:
    return TASK_TYPE.get(state_type, state_type.upper())


def epoch_millis(instant: datetime | None) -> int | None:
    return None if instant is None else int(instant.timestamp() * 1000)


def idempotency_strategy(key: str | None, strategy: str | None) -> ConflictStrategy | None:
    """The conflict strategy of a start with this key: Conductor's default FAIL when a key has none.
    Without a key there is none, whatever the request says: Conductor's SDK sends its default strategy
    (FAIL) on every start, key or not."""
    if key is None:
        return None
    if strategy is None:
        return DEFAULT_IDEMPOTENCY_STRATEGY
    try:
        return ConflictStrategy(strategy.upper())
    except ValueError:
        raise BadRequest(
            f"Unknown idempotencyStrategy '{strategy}': one of {', '.join(ConflictStrategy)}"
        ) from None


# Search: Conductor's `query` language, the part flowport's indexes can answer.

SEARCH_FIELDS = ("workflowType", "status", "correlationId")
_CLAUSE = re.compile(
    r"""^\s*(?P<field>\w+)\s*
    (?:
        (?P<equals>=)\s*(?P<value>'[^']*'|"[^"]*"|[^\s'"(),]+)
      | (?P<in>IN)\s*\((?P<values>[^()]*)\)
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_AND = re.compile(r"\s+AND\s+", re.IGNORECASE)


@dataclass(frozen=True)
class SearchQuery:
    """Each field's accepted values; None: any. The values of one field are alternatives (IN), the
    fields together all apply (AND)."""

    workflow_types: tuple[str, ...] | None = None
    statuses: tuple[ExecutionStatus, ...] | None = None
    correlation_ids: tuple[str, ...] | None = None


def _unquoted(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _values(match: re.Match[str]) -> tuple[str, ...]:
    if match["equals"]:
        return (_unquoted(match["value"]),)
    values = tuple(_unquoted(value) for value in match["values"].split(","))
    if not all(values):
        raise BadRequest(f"An empty value in '{match.group(0).strip()}'")
    return values


def _unique(values: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(values))


def parse_query(query: str | None, free_text: str | None = None) -> SearchQuery:
    """Conductor's `query` (`field = value`, `field IN (a,b)`, joined by AND) over workflowType, status
    and correlationId; `freeText` only as `*` (or absent). Anything else is a 400 saying what is taken."""
    if free_text is not None and free_text.strip() not in ("", "*"):
        raise BadRequest(
            f"freeText '{free_text}' is not supported: only '*'; filter with query on "
            f"{', '.join(SEARCH_FIELDS)}"
        )
    if query is None or not query.strip():
        return SearchQuery()
    found: dict[str, tuple[str, ...]] = {}
    for clause in _AND.split(query.strip()):
        match = _CLAUSE.match(clause)
        if match is None:
            raise BadRequest(
                f"Unsupported query clause '{clause.strip()}': flowport takes `field = value` and "
                f"`field IN (a,b)` on {', '.join(SEARCH_FIELDS)}, joined by AND"
            )
        field = next((name for name in SEARCH_FIELDS if name.lower() == match["field"].lower()), None)
        if field is None:
            raise BadRequest(f"Unsupported query field '{match['field']}': one of {', '.join(SEARCH_FIELDS)}")
        if field in found:
            raise BadRequest(f"Query field '{field}' appears twice: give its values once, with IN (a,b)")
        found[field] = _unique(_values(match))
    statuses = None
    if "status" in found:
        statuses = _unique(status for name in found["status"] for status in execution_statuses(name))
    return SearchQuery(
        workflow_types=found.get("workflowType"),
        statuses=statuses,
        correlation_ids=found.get("correlationId"),
    )


SORT_FIELD = "startTime"
# Conductor pages by offset (start, size), flowport by token: a search reads up to this many hits, counts
# them in totalHits and pages over them.
MAX_HITS = 1000


def newest_first(sort: str | None) -> bool:
    """Conductor's `sort` (`startTime:DESC` or `startTime:ASC`): flowport sorts by start time only."""
    if sort is None or not sort.strip():
        return True
    field, _, direction = sort.strip().partition(":")
    direction = direction.strip().upper() or "ASC"
    if field.strip() != SORT_FIELD or direction not in ("ASC", "DESC"):
        raise BadRequest(f"Unsupported sort '{sort}': only {SORT_FIELD}:DESC or {SORT_FIELD}:ASC")
    return direction == "DESC"


# Conductor's JSON documents, as its SDK parses them.


class ConductorModel(BaseModel):
    # As flowport's own bodies: a field without a value is left out, never null (flowport.api.responses).
    # Conductor's SDK reads an absent field as None. Built at first use: only the conductor function has
    # them, and the OpenAPI document.
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        json_schema_extra=absent_rather_than_null,
        defer_build=True,
    )


class StartWorkflowRequest(ConductorModel):
    """Conductor's StartWorkflowRequest; of the rest it may carry (taskToDomain, workflowDef, ...)
    nothing applies to flowport, and it is ignored as Conductor ignores what does not apply."""

    name: str = Field(min_length=1, max_length=63)
    version: int | None = Field(default=None, ge=1, le=1_000_000)
    correlation_id: str | None = Field(default=None, min_length=1, max_length=128)
    input: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=0, le=99)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)
    idempotency_strategy: str | None = None


class TokenRequest(ConductorModel):
    key_id: str = Field(min_length=1, max_length=1024)
    key_secret: str = Field(min_length=1, max_length=1024)


class TokenResponse(ConductorModel):
    token: str


class ConductorError(ConductorModel):
    """Conductor's error document: its SDK reads `message`."""

    status: int
    code: str
    message: str
    retryable: bool


class ConductorTask(ConductorModel):
    task_id: str
    task_type: str
    task_def_name: str
    reference_task_name: str
    status: str
    seq: int
    retry_count: int
    workflow_instance_id: str
    workflow_type: str
    start_time: int | None = None
    end_time: int | None = None
    scheduled_time: int | None = None
    reason_for_incompletion: str | None = None
    input_data: dict[str, Any] = Field(default_factory=dict)
    output_data: dict[str, Any] = Field(default_factory=dict)


class ConductorWorkflow(ConductorModel):
    workflow_id: str
    workflow_name: str
    workflow_version: int
    status: str
    correlation_id: str | None = None
    priority: int
    input: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    reason_for_incompletion: str | None = None
    failed_reference_task_names: list[str] = Field(default_factory=list)
    create_time: int | None = None
    start_time: int | None = None
    end_time: int | None = None
    created_by: str | None = None
    re_run_from_workflow_id: str | None = None
    tasks: list[ConductorTask] = Field(default_factory=list)


class ConductorWorkflowStatus(ConductorModel):
    workflow_id: str
    correlation_id: str | None = None
    output: dict[str, Any] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    status: str


class ConductorWorkflowSummary(ConductorModel):
    workflow_type: str
    version: int
    workflow_id: str
    correlation_id: str | None = None
    start_time: str  # Conductor's summaries carry ISO 8601 text, not epoch millis
    status: str
    priority: int
    created_by: str | None = None


class ConductorSearchResult(ConductorModel):
    total_hits: int
    results: list[ConductorWorkflowSummary]


def _as_object(value: Any) -> dict[str, Any]:
    """Conductor's input and output are JSON objects: a workflow result of another JSON type is kept
    under `result`, so that nothing of it is lost."""
    if value is None:
        return {}
    return value if isinstance(value, dict) else {"result": value}


def reason_for_incompletion(detail: ExecutionDetail) -> str | None:
    if detail.error is None:
        return None
    return f"{detail.error.code}: {detail.error.message}"


def task_of(detail: ExecutionDetail, seq: int, entry: NodeEntry) -> ConductorTask:
    """One state run as a Conductor task; `seq` counts from 1, in the order the runs started."""
    return ConductorTask(
        task_id=f"{detail.execution_id}-{seq}",
        task_type=task_type(entry.type),
        task_def_name=entry.name,
        reference_task_name=entry.name,
        status=task_status(entry.status),
        seq=seq,
        retry_count=max(entry.attempts - 1, 0),
        workflow_instance_id=detail.execution_id,
        workflow_type=detail.workflow,
        start_time=epoch_millis(entry.started_at),
        scheduled_time=epoch_millis(entry.started_at),
        end_time=epoch_millis(entry.ended_at),
        reason_for_incompletion=None if entry.error is None else f"{entry.error.code}: {entry.error.message}",
        input_data=_as_object(entry.input),
        output_data=_as_object(entry.output),
    )


def workflow_of(detail: ExecutionDetail, runs: Sequence[NodeEntry] = ()) -> ConductorWorkflow:
    return ConductorWorkflow(
        workflow_id=detail.execution_id,
        workflow_name=detail.workflow,
        workflow_version=detail.version,
        status=workflow_status(detail.status),
        correlation_id=detail.correlation_id,
        priority=detail.priority,
        input=_as_object(detail.input),
        output=_as_object(detail.output),
        variables=dict(detail.status_variables),
        reason_for_incompletion=reason_for_incompletion(detail),
        failed_reference_task_names=[detail.error.node] if detail.error and detail.error.node else [],
        create_time=epoch_millis(detail.created_at),
        start_time=epoch_millis(detail.started_at or detail.created_at),
        end_time=epoch_millis(detail.completed_at),
        created_by=detail.started_by,
        re_run_from_workflow_id=detail.rerun_of,
        tasks=[task_of(detail, seq, entry) for seq, entry in enumerate(runs, start=1)],
    )


def status_of(detail: ExecutionDetail) -> ConductorWorkflowStatus:
    return ConductorWorkflowStatus(
        workflow_id=detail.execution_id,
        correlation_id=detail.correlation_id,
        output=_as_object(detail.output),
        variables=dict(detail.status_variables),
        status=workflow_status(detail.status),
    )


def summary_of(summary: ExecutionSummary) -> ConductorWorkflowSummary:
    return ConductorWorkflowSummary(
        workflow_type=summary.workflow,
        version=summary.version,
        workflow_id=summary.execution_id,
        correlation_id=summary.correlation_id,
        start_time=summary.created_at.isoformat().replace("+00:00", "Z"),
        status=workflow_status(summary.status),
        priority=summary.priority,
        created_by=summary.started_by,
    )


def hits_page(
    hits: Iterable[ExecutionSummary], *, start: int, size: int, newest_first: bool = True
) -> ConductorSearchResult:
    """One page of Conductor's search from flowport's hits (several searches' when the query has
    alternatives): each execution once, by start time, `size` of them from `start`."""
    unique = {hit.execution_id: hit for hit in hits}
    ordered = sorted(
        unique.values(), key=lambda hit: (hit.created_at, hit.execution_id), reverse=newest_first
    )
    return ConductorSearchResult(
        total_hits=len(ordered), results=[summary_of(hit) for hit in ordered[start : start + size]]
    )


def error_of(status: int, code: str, message: str) -> ConductorError:
    # Conductor's clients retry what the server says is retryable: flowport's 429 and 5xx answers are,
    # but for 501, which no retry changes.
    retryable = status == 429 or (status >= 500 and status != 501)
    return ConductorError(status=status, code=code, message=message, retryable=retryable)


# Endpoints of Conductor's API that flowport cannot honour: each answers 501 naming what to do instead.
# Matched by the first of these that the path (after /api) starts with, then by its last segment.
UNSUPPORTED: tuple[tuple[str, str], ...] = (
    (
        "/workflow/*/pause",
        "flowport cannot pause an execution (Step Functions has no pause): terminate "
        "it with DELETE /api/workflow/{id} and start it again with POST /api/workflow/{id}/restart",
    ),
    (
        "/workflow/*/resume",
        "flowport cannot pause, so there is nothing to resume: a FAILED, TIMED_OUT or "
        "TERMINATED workflow runs again with POST /api/workflow/{id}/retry",
    ),
    (
        "/workflow/*/skiptask",
        "flowport cannot skip a state of a running execution: change the state "
        "machine, or terminate and restart",
    ),
    (
        "/workflow/*/remove",
        "flowport removes an execution when its retention ends (cleanupAfter); "
        "terminate it with DELETE /api/workflow/{id}",
    ),
    (
        "/workflow/*/rerun",
        "rerun from a task is not supported: POST /api/workflow/{id}/retry runs it again "
        "from the state it failed in, POST /api/workflow/{id}/restart as a new execution",
    ),
    (
        "/tasks",
        "flowport's states run inside Step Functions, not in polled workers: there are no tasks to "
        "poll or update; write the work as a state of the workflow's state machine",
    ),
    (
        "/metadata",
        "workflows are defined in statemachines/ and deployed with template.yaml; GET /workflows lists them",
    ),
    (
        "/workflow/execute",
        "flowport starts asynchronously: POST /api/workflow, then GET "
        "/api/workflow/{id} (or GET /executions/{id}/events to follow it)",
    ),
)
GENERIC_ALTERNATIVE = (
    "flowport answers Conductor's workflow start, get, status, terminate, retry, restart and search, and "
    "POST /api/token; see README 'Conductor compatibility', and /openapi.json for flowport's own API"
)


def alternative_to(path: str) -> str:
    """What to do instead of the Conductor endpoint at `path` (below /api), which flowport lacks."""
    segments = [segment for segment in path.split("/") if segment]
    for pattern, alternative in UNSUPPORTED:
        wanted = [segment for segment in pattern.split("/") if segment]
        if len(segments) >= len(wanted) and all(
            want in ("*", segment) for want, segment in zip(wanted, segments, strict=False)
        ):
            return alternative
    return GENERIC_ALTERNATIVE
