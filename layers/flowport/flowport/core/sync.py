"""Keeping execution records in step with Step Functions, from its "Execution Status Change" events.

Events may come twice, late or out of order (EventBridge delivers at least once, in no set order). Within
one attempt (flowport.core.retry: a redrive is a new attempt of the same execution, counted by the
events' `redriveCount`) the record only ever moves forward: QUEUED -> RUNNING -> a finished status, and a
finished record never changes again. A newer attempt than the record's moves it back to RUNNING (a retry
whose own write did not happen, or a redrive made outside flowport), then on as before; an earlier
attempt's events are old news. The store enforces this with conditional writes on the status and the
attempt, so concurrent deliveries are safe too.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flowport.core.models import ExecutionRecord, ExecutionStatus, LiveView, ProgressSnapshot
from flowport.core.progress import with_reported
from flowport.core.status import STEP_FUNCTIONS_STATUS, Observation, execution_error

DETAIL_TYPE = "Step Functions Execution Status Change"


class DataDetails(BaseModel):
    included: bool = True


class StatusChange(BaseModel):
    """The `detail` of a Step Functions "Execution Status Change" event."""

    model_config = ConfigDict(populate_by_name=True)

    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    name: str
    status: str
    start_date: int | None = Field(default=None, alias="startDate")  # epoch milliseconds
    stop_date: int | None = Field(default=None, alias="stopDate")
    output: str | None = None
    output_details: DataDetails | None = Field(default=None, alias="outputDetails")
    error: str | None = None
    cause: str | None = None
    # Present since Step Functions redrives (0 for a first run); absent, the event is of a first run.
    redrive_count: int | None = Field(default=None, alias="redriveCount")

    @property
    def attempt(self) -> int:
        return self.redrive_count or 0

    @property
    def flowport_status(self) -> ExecutionStatus:
        return STEP_FUNCTIONS_STATUS[self.status]

    @property
    def output_included(self) -> bool:
        return self.output is not None and (self.output_details is None or self.output_details.included)


def _time(epoch_millis: int | None) -> datetime | None:
    return datetime.fromtimestamp(epoch_millis / 1000, UTC) if epoch_millis is not None else None


def is_earlier_attempt(record: ExecutionRecord, change: StatusChange) -> bool:
    """Whether the event is of an attempt before the record's: old news, whatever it says."""
    return change.attempt < record.redrive_count


def is_new_attempt(record: ExecutionRecord, change: StatusChange) -> bool:
    """Whether the event is of an attempt after the record's: a redrive the record has not heard of."""
    return change.attempt > record.redrive_count


def runs_though_cancelled(record: ExecutionRecord, change: StatusChange) -> bool:
    """Whether Step Functions reports running an execution whose record was cancelled: a cancel that came
    while the record was QUEUED, before its start request reached Step Functions."""
    return record.status is ExecutionStatus.CANCELLED and not change.flowport_status.is_terminal


def ended_before_its_stop(record: ExecutionRecord, change: StatusChange) -> bool:
    """Whether Step Functions reports an execution that flowport cancelled as ended another way: it had
    finished, or finished before the stop reached it (a cancel can only claim what the record says runs).
    The record then takes how it really ended: Step Functions is the authority on what happened."""
    ended = change.flowport_status
    return (
        record.status is ExecutionStatus.CANCELLED
        and record.cancel_requested_at is not None
        and ended.is_terminal
        and ended is not ExecutionStatus.CANCELLED
    )


def completes_a_cancel(record: ExecutionRecord, change: StatusChange) -> bool:
    """Whether this is the end of an execution flowport cancelled, whose record does not yet say how far it
    got (the cancel writes no more than CANCELLED, to stay three calls): the sync function adds it once."""
    return (
        record.status is ExecutionStatus.CANCELLED
        and change.flowport_status is ExecutionStatus.CANCELLED
        and record.progress is None
    )


def ended_as(record: ExecutionRecord, change: StatusChange, output: Any = None) -> ExecutionRecord:
    """The record as the finished execution `change` reports it."""
    new_status = change.flowport_status
    return record.model_copy(
        update={
            "status": new_status,
            "started_at": record.started_at or _time(change.start_date),
            "completed_at": _time(change.stop_date),
            "output": output if new_status is ExecutionStatus.COMPLETED else None,
            "error": execution_error(new_status, change.error, change.cause),
        }
    )


def final_progress(record: ExecutionRecord, view: LiveView) -> ProgressSnapshot:
    """How far a finished execution got: counted from its history, unless the workflow said otherwise."""
    succeeded = record.status is ExecutionStatus.COMPLETED
    shown = with_reported(view.progress, succeeded, record.status_variables.get("progress"))
    return shown.model_copy(update={"current_node": None})


def advanced(record: ExecutionRecord, change: StatusChange, output: Any = None) -> ExecutionRecord | None:
    """The record after `change`, or None when the change is old news (the record is as far or further)."""
    new_status = change.flowport_status
    if record.status.is_terminal or new_status is record.status:
        return None
    if new_status is ExecutionStatus.RUNNING:
        return record.model_copy(update={"status": new_status, "started_at": _time(change.start_date)})
    return ended_as(record, change, output)


_STEP_FUNCTIONS_NAMES = {
    status: name for name, status in STEP_FUNCTIONS_STATUS.items() if name != "PENDING_REDRIVE"
}


def _millis(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None


def observed_change(record: ExecutionRecord, observation: Observation, attempt: int) -> StatusChange:
    """The status change Step Functions sent (or would have) for what DescribeExecution says now: the
    reconciler applies it when the event itself never arrived."""
    error = observation.error
    return StatusChange(
        execution_arn=record.execution_arn,
        state_machine_arn=record.state_machine_arn,
        name=record.execution_id,
        status=_STEP_FUNCTIONS_NAMES[observation.status],
        start_date=_millis(observation.started_at),
        stop_date=_millis(observation.stopped_at),
        output=json.dumps(observation.output) if observation.output is not None else None,
        error=error.code if error is not None else None,
        cause=error.message if error is not None else None,
        redrive_count=attempt,
    )


def output_of(change: StatusChange) -> Any:
    return json.loads(change.output) if change.output is not None else None
