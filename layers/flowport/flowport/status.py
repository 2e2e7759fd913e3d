"""Status rules: what Step Functions says, mapped to flowport's statuses, and the view a caller gets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flowport.models import (
    ExecutionDetail,
    ExecutionError,
    ExecutionLinks,
    ExecutionRecord,
    ExecutionStatus,
    ExecutionSummary,
    IdempotencyKeyRecord,
    ProgressSnapshot,
)
from flowport.progress import Progress, cause_message, progress_of
from flowport.registry import Workflow

STEP_FUNCTIONS_STATUS = {
    "RUNNING": ExecutionStatus.RUNNING,
    "SUCCEEDED": ExecutionStatus.COMPLETED,
    "FAILED": ExecutionStatus.FAILED,
    "TIMED_OUT": ExecutionStatus.TIMED_OUT,
    "ABORTED": ExecutionStatus.CANCELLED,
    # A failed execution that may be redriven: it has failed until someone redrives it.
    "PENDING_REDRIVE": ExecutionStatus.FAILED,
}

START_ABANDONED = ExecutionError(
    code="start_abandoned",
    message="The execution was accepted but never reached Step Functions, and no retry started it in time",
)


@dataclass(frozen=True)
class Observation:
    """An execution as Step Functions describes it."""

    status: ExecutionStatus
    started_at: datetime | None
    stopped_at: datetime | None
    output: Any | None
    error: ExecutionError | None


def observation_from_description(description: dict[str, Any]) -> Observation:
    status = STEP_FUNCTIONS_STATUS[description["status"]]
    output = description.get("output")
    return Observation(
        status=status,
        started_at=description["startDate"],
        stopped_at=description.get("stopDate"),
        output=json.loads(output) if output is not None else None,
        error=execution_error(description.get("error"), description.get("cause"))
        if status in (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT)
        else None,
    )


def execution_error(error: str | None, cause: str | None, node: str | None = None) -> ExecutionError:
    """Step Functions gives an error name and a cause; a Lambda's cause is JSON with its message."""
    code = error or "States.Timeout"
    message = cause_message(cause) if cause else ""
    return ExecutionError(
        code=code, message=message or _DEFAULT_MESSAGES.get(code, "The execution failed"), node=node
    )


_HISTORY_OUTCOMES = {
    "ExecutionSucceeded": ("SUCCEEDED", "executionSucceededEventDetails"),
    "ExecutionFailed": ("FAILED", "executionFailedEventDetails"),
    "ExecutionTimedOut": ("TIMED_OUT", "executionTimedOutEventDetails"),
    "ExecutionAborted": ("ABORTED", "executionAbortedEventDetails"),
}


def observation_from_history(
    events: list[dict[str, Any]], definition: dict[str, Any], reported: Any
) -> tuple[Observation, Progress]:
    """What the newest page of an execution's history says: its status, outcome and progress."""
    newest_first = sorted(events, key=lambda event: int(event.get("id", 0)), reverse=True)
    ended = next((e for e in newest_first if e.get("type") in _HISTORY_OUTCOMES), None)
    aws_status, details_key = _HISTORY_OUTCOMES[ended["type"]] if ended else ("RUNNING", "")
    details = ended.get(details_key, {}) if ended else {}
    started = next((e["timestamp"] for e in newest_first if e.get("type") == "ExecutionStarted"), None)
    flowport_status = STEP_FUNCTIONS_STATUS[aws_status]
    progress = progress_of(definition, newest_first, aws_status, _as_number(reported))
    failure = progress.failure
    output = details.get("output")
    observation = Observation(
        status=flowport_status,
        started_at=started,
        stopped_at=ended["timestamp"] if ended else None,
        output=json.loads(output) if flowport_status is ExecutionStatus.COMPLETED and output else None,
        error=execution_error(failure.code, failure.message, failure.node) if failure else None,
    )
    return observation, progress


def _as_number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def snapshot(progress: Progress) -> ProgressSnapshot:
    return ProgressSnapshot(
        progress=progress.progress,
        current_node=progress.current_node,
        completed_nodes=progress.completed_nodes,
        total_nodes=progress.total_nodes,
        retry_count=progress.retry_count,
    )


_DEFAULT_MESSAGES = {"States.Timeout": "The execution ran longer than its workflow allows"}


def current_record(
    record: ExecutionRecord,
    observation: Observation | None,
    now: datetime,
    start_deadline_seconds: int,
    progress: Progress | None = None,
) -> ExecutionRecord:
    """The record brought up to date with what Step Functions observed (None: it has no such execution)."""
    if record.status.is_terminal:
        return record
    if observation is None:
        if now >= record.created_at + timedelta(seconds=start_deadline_seconds):
            return record.model_copy(
                update={"status": ExecutionStatus.FAILED, "error": START_ABANDONED, "completed_at": now}
            )
        return record
    return record.model_copy(
        update={
            "status": observation.status,
            "started_at": observation.started_at or record.started_at,
            "completed_at": observation.stopped_at,
            "output": observation.output,
            "error": observation.error,
            "progress": snapshot(progress) if progress is not None else record.progress,
        }
    )


def links(execution_id: str, base: str = "") -> ExecutionLinks:
    path = f"{base}/executions/{execution_id}"
    return ExecutionLinks(self_=path, cancel=path)


def summary_of_key(key: IdempotencyKeyRecord, status: ExecutionStatus) -> ExecutionSummary:
    return ExecutionSummary(
        execution_id=key.execution_id,
        workflow=key.workflow,
        version=key.version,
        status=status,
        correlation_id=key.correlation_id,
        priority=key.priority,
        created_at=key.created_at,
        links=links(key.execution_id),
    )


def summary_of(record: ExecutionRecord) -> ExecutionSummary:
    return ExecutionSummary(
        execution_id=record.execution_id,
        workflow=record.workflow,
        version=record.version,
        status=record.status,
        correlation_id=record.correlation_id,
        priority=record.priority,
        created_at=record.created_at,
        links=links(record.execution_id),
    )


def detail_of(record: ExecutionRecord, workflow: Workflow | None) -> ExecutionDetail:
    """The status document. `workflow` is None if the workflow was removed since the execution ran."""
    completed = record.status is ExecutionStatus.COMPLETED
    return ExecutionDetail(
        **summary_of(record).model_dump(),
        input=record.input,
        output=record.output if completed else None,
        output_from_step_functions=True if completed and record.output_in_step_functions else None,
        error=record.error if record.status.is_terminal and not completed else None,
        status_variables=status_variables(
            workflow, record.status_variables, record.output if completed else None
        ),
        started_at=record.started_at,
        completed_at=record.completed_at,
        source=record.source,
        **_progress_fields(record),
        cleanup_after=cleanup_after(record.completed_at, workflow) if record.status.is_terminal else None,
    )


def _progress_fields(record: ExecutionRecord) -> dict[str, Any]:
    if record.progress is None:
        return {"progress": 100} if record.status is ExecutionStatus.COMPLETED else {}
    fields = record.progress.model_dump()
    if record.status.is_terminal:
        fields["current_node"] = None
    return fields


def status_variables(workflow: Workflow | None, recorded: dict[str, Any], output: Any) -> dict[str, Any]:
    """Only the declared names: the values the workflow recorded, then those in its final output."""
    if workflow is None:
        return {}
    final = output if isinstance(output, dict) else {}
    return {
        name: final.get(name, recorded.get(name))
        for name in workflow.status_variables
        if name in final or name in recorded
    }


def cleanup_after(completed_at: datetime | None, workflow: Workflow | None) -> datetime | None:
    if completed_at is None:
        return None
    return completed_at + timedelta(hours=workflow.retention_hours if workflow else 24)


def expiry_for_new(created_at: datetime, workflow: Workflow, max_run_seconds: int) -> int:
    """The TTL written at start: the execution may run up to `max_run_seconds`, then be retained."""
    return int(created_at.timestamp()) + max_run_seconds + workflow.retention_hours * 3600
