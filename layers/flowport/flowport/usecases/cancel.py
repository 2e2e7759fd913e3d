"""Use case: cancel a queued or running execution, in three AWS calls: the claim, the stop, the record (two
for one waiting in its workflow's queue, which has nothing to stop)."""

from __future__ import annotations

from flowport.core import status
from flowport.core.clock import Clock, utcnow
from flowport.core.errors import (
    CancellationInProgress,
    Conflict,
    ExecutionNotCancellable,
    ServiceUnavailable,
    execution_not_found,
)
from flowport.core.identity import Action, Caller
from flowport.core.models import CancelResult, ExecutionStatus
from flowport.core.ports import ExecutionStore, WorkflowEngine
from flowport.core.registry import Registry

CANCEL_CAUSE = "Cancelled through the flowport API"


class CancelExecution:
    def __init__(
        self,
        registry: Registry,
        store: ExecutionStore,
        engine: WorkflowEngine,
        clock: Clock = utcnow,
    ) -> None:
        # No live view is read or written: the cancel function loads none of the status readers.
        self._registry = registry
        self._store = store
        self._engine = engine
        self._clock = clock

    def cancel(self, execution_id: str, caller: Caller) -> CancelResult:
        """The claim decides: of any number of concurrent cancels one wins, and a finished execution (as
        recorded) refuses. Step Functions is then asked to stop it, whatever the record last heard: a
        QUEUED record may already run (its start got there before the sync function said so), and a
        start still on its way is stopped by the sync function when it reports it running."""
        caller.require(Action.CANCEL)
        now = self._clock()
        claim = self._store.claim_cancel(execution_id, now, caller.reach())
        record = claim.record
        if record is None or not caller.may_see(Action.CANCEL, record.workflow, record.started_by):
            raise execution_not_found(execution_id)
        if not claim.won:
            # Lost to a finished execution, or to another cancel that claimed it first (until it records
            # CANCELLED the execution still reads as it was): each says what is true now.
            if record.status.is_terminal:
                refusal: type[Conflict] = ExecutionNotCancellable
                why = f"it has already finished ({record.status.value})"
            else:
                refusal, why = CancellationInProgress, "another request is cancelling it right now"
            raise refusal(
                f"Execution {execution_id} cannot be cancelled: {why}",
                execution_id=execution_id,
                cancelled=False,
                execution_status=record.status,
            )
        try:
            # One waiting in the queue has not reached Step Functions, and now never will.
            ran = not record.waiting and self._engine.stop(record.execution_arn, cause=CANCEL_CAUSE)
        except ServiceUnavailable:
            self._store.withdraw_cancel(execution_id)
            raise
        cancelled = record.model_copy(update={"status": ExecutionStatus.CANCELLED, "completed_at": now})
        self._store.finish(status.retained(cancelled, self._registry.get(cancelled.workflow)))
        return CancelResult(
            execution_id=execution_id,
            cancelled=True,
            # Step Functions had it: it ran, whether or not the record had heard so yet.
            previous_status=ExecutionStatus.RUNNING if ran else record.status,
            status=ExecutionStatus.CANCELLED,
            message=f"Execution {execution_id} was cancelled",
        )
