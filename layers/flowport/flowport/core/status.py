"""Status rules: what Step Functions says, mapped to flowport's statuses, and the view a caller gets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flowport.core.models import (
    ExecutionDetail,
    ExecutionError,
    ExecutionLinks,
    ExecutionRecord,
    ExecutionStatus,
    ExecutionSummary,
    IdempotencyKeyRecord,
    LiveView,
)
from flowport.core.registry import Workflow

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
_DEFAULT_CODES = {ExecutionStatus.TIMED_OUT: "States.Timeout", ExecutionStatus.FAILED: "ExecutionFailed"}


@dataclass(frozen=True)
class Observation:
    """An execution as Step Functions describes it (DescribeExecution)."""

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
        error=execution_error(status, description.get("error"), description.get("cause")),
    )


def execution_error(status: ExecutionStatus, error: str | None, cause: str | None) -> ExecutionError | None:
    """Why an execution that failed or timed out ended, from Step Functions' error name and cause (a
    Lambda's cause is JSON with its message); None for any other status."""
    default_code = _DEFAULT_CODES.get(status)
    if default_code is None:
        return None
    # Imported here (and progress in current_record): the start function needs them only to describe a
    # failed execution behind a retried, unconfirmed key, so its cold start does not load the history
    # reader; the functions that read executions load it anyway.
    from flowport.core.history import DEFAULT_MESSAGES, cause_message

    code = error or default_code
    message = cause_message(cause) if cause else ""
    return ExecutionError(code=code, message=message or DEFAULT_MESSAGES.get(code, "The execution failed"))


def current_record(
    record: ExecutionRecord, view: LiveView | None, now: datetime, start_deadline_seconds: int
) -> ExecutionRecord:
    """The record brought up to date with what Step Functions said (None: it has no such execution).

    The record's own start time wins over the history's: the sync function writes it from Step Functions'
    status change, so a status document's startedAt is one value from first sight to the end.
    """
    if record.status.is_terminal:
        return record
    if view is None:
        # From when it was sent to Step Functions: at its start, or when it left the queue.
        sent_at = record.dispatched_at or record.created_at
        if now >= sent_at + timedelta(seconds=start_deadline_seconds):
            return record.model_copy(
                update={"status": ExecutionStatus.FAILED, "error": START_ABANDONED, "completed_at": now}
            )
        return record
    from flowport.core.progress import with_reported  # see execution_error

    progress = with_reported(
        view.progress, view.status is ExecutionStatus.COMPLETED, record.status_variables.get("progress")
    )
    return record.model_copy(
        update={
            "status": view.status,
            "started_at": record.started_at or view.started_at,
            "completed_at": view.stopped_at,
            "error": view.error,
            "progress": progress,
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
        started_by=key.started_by,
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
        started_by=record.started_by,
        links=links(record.execution_id),
    )


def detail_of(
    record: ExecutionRecord, workflow: Workflow | None, queue_position: int | None = None
) -> ExecutionDetail:
    """The status document. `workflow` is None if the workflow was removed since the execution ran;
    `queue_position` is given while it waits in the queue."""
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
        queued_at=record.queued_at,
        queue_position=queue_position if record.waiting else None,
        redrive_count=record.redrive_count or None,
        rerun_of=record.rerun_of,
        reruns=record.reruns or None,
        callback_delivery=record.callback.failed if record.callback else None,
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


def retained(record: ExecutionRecord, workflow: Workflow | None) -> ExecutionRecord:
    """A finished record with its expiry set to the end of its workflow's retention."""
    cleanup = cleanup_after(record.completed_at, workflow)
    return record.model_copy(update={"expires_at": int(cleanup.timestamp())}) if cleanup else record


def expiry_for_new(created_at: datetime, workflow: Workflow, max_run_seconds: int) -> int:
    """The TTL written at start: the execution may run up to `max_run_seconds`, then be retained."""
    return int(created_at.timestamp()) + max_run_seconds + workflow.retention_hours * 3600
