"""Use case: apply a Step Functions status change to the execution's record (rules: flowport.core.sync)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowport.core import retry, sync
from flowport.core.clock import Clock, utcnow
from flowport.core.models import ExecutionRecord, ExecutionStatus
from flowport.core.ports import ExecutionStore, RetryRecords, WorkflowEngine
from flowport.core.sync import StatusChange
from flowport.usecases.admission import Admission
from flowport.usecases.cancel import CANCEL_CAUSE
from flowport.usecases.live import LiveExecutions

if TYPE_CHECKING:
    from flowport.usecases.webhooks import EnqueueDelivery


class ApplyStatusChange:
    def __init__(
        self,
        store: ExecutionStore,
        engine: WorkflowEngine,
        executions: LiveExecutions,
        admission: Admission,
        clock: Clock = utcnow,
        *,
        retries: RetryRecords,
        deliveries: EnqueueDelivery | None = None,
    ) -> None:
        """`deliveries`: None where no callback is ever sent."""
        self._store = store
        self._engine = engine
        self._executions = executions
        self._admission = admission
        self._clock = clock
        self._retries = retries
        self._deliveries = deliveries

    def apply(self, change: StatusChange) -> bool:
        """Move the record forward as Step Functions reports; False when the event is old news or not ours.
        An end frees its attempt's slot for the next waiting execution, however often it is reported:
        an earlier delivery may have recorded the end and died before the release. So too its callback's
        message is queued at each report (flowport.usecases.webhooks.EnqueueDelivery says why)."""
        record = self._store.get(change.name, self._clock().timestamp())
        if record is None or record.execution_arn != change.execution_arn:
            return False
        if sync.is_earlier_attempt(record, change):
            return False  # its slot, if it held one, was freed when it ended
        written = self._apply(record, change)
        if change.flowport_status.is_terminal:
            self._admission.release_and_dispatch(record.workflow, record.execution_id, change.attempt)
        reported = written or record
        if (
            self._deliveries is not None
            and reported.status is change.flowport_status
            and reported.redrive_count == change.attempt
        ):
            self._deliveries.reported(reported)
        return written is not None

    def _apply(self, record: ExecutionRecord, change: StatusChange) -> ExecutionRecord | None:
        """The record as this call wrote it; None when it wrote nothing."""
        if sync.is_new_attempt(record, change):
            restarted = self._restarted(record, change)
            if restarted is None:  # another writer recorded that attempt first: look again
                fresh = self._store.get(change.name, self._clock().timestamp())
                return self._apply(fresh, change) if fresh is not None else None
            if not change.flowport_status.is_terminal:
                return restarted
            record = restarted  # its RUNNING event is late, or lost: the end is recorded on from here
        if sync.runs_though_cancelled(record, change):
            self._stop_if_running(record)
            return None
        output = None
        if change.flowport_status is ExecutionStatus.COMPLETED:
            output = (
                sync.output_of(change)
                if change.output_included
                else self._executions.output_from_step_functions(record)
            )
        if sync.ended_before_its_stop(record, change):
            return self._finished(self._final(sync.ended_as(record, change, output)), after_cancel=True)
        if sync.completes_a_cancel(record, change):
            return self._finished(self._final(record), after_cancel=True)
        updated = sync.advanced(record, change, output)
        if updated is None:
            return None
        if updated.status is ExecutionStatus.RUNNING:
            return updated if self._store.mark_running(updated) else None
        return self._finished(self._final(updated))

    def _finished(self, record: ExecutionRecord, after_cancel: bool = False) -> ExecutionRecord | None:
        return record if self._store.finish(record, after_cancel=after_cancel) else None

    def _restarted(self, record: ExecutionRecord, change: StatusChange) -> ExecutionRecord | None:
        """The record as the attempt Step Functions reports, if this wrote it: a retry whose own write did
        not happen (it crashed after RedriveExecution), or a redrive made outside flowport."""
        expires_at = self._executions.expiry_of_a_new_run(record, self._clock())
        restarted = retry.restarted(record, change.attempt, expires_at)
        return restarted if self._retries.restart(restarted, from_attempt=None) else None

    def _stop_if_running(self, record: ExecutionRecord) -> None:
        # Asked first: the event may be a late one of an execution the cancel itself stopped.
        observation = self._engine.describe(record.execution_arn)
        if observation is not None and not observation.status.is_terminal:
            self._engine.stop(record.execution_arn, cause=CANCEL_CAUSE)

    def _final(self, record: ExecutionRecord) -> ExecutionRecord:
        """The finished record with its retention, how far it got and where it failed, read from its
        history once; that final view is kept for the event streams too, so reading a finished execution
        costs no more history reads."""
        view = self._executions.view_from_history(record, self._clock())
        record = self._executions.with_retention(record)
        if view is None:
            return record
        self._executions.keep_final_view(record, view)
        error = record.error
        if error is not None and view.error is not None and view.error.node:
            error = error.model_copy(update={"node": view.error.node})
        return record.model_copy(update={"progress": sync.final_progress(record, view), "error": error})
