"""Use case: the reconciler. On a schedule (every minute) it compares each workflow's slot holders with
their records and Step Functions, and its queue with its slots, and repairs what a crash, a lost or failed
end event, or a throttled start left behind. It reports each repair; the function logs them.

The holders it judges (flowport.core.admission.judge_holder) are only those older than the slot grace,
longer than any function runs, so it never races a start or a dispatch still on its way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flowport.core import admission, status, sync
from flowport.core.admission import Holder, Verdict
from flowport.core.clock import Clock, utcnow
from flowport.core.models import ExecutionRecord
from flowport.core.ports import ExecutionStore, SlotStore, WorkflowEngine, WorkflowQueue
from flowport.core.registry import Registry, Workflow
from flowport.settings import Settings
from flowport.usecases.admission import Admission
from flowport.usecases.sync import ApplyStatusChange

# Holders asked about per workflow and run: a bound on DescribeExecution calls (their quota is the
# account's); with more, each run (each minute of the clock) looks at the next ones (holders_to_check).
MAX_HOLDERS_CHECKED = 100
RUN_SECONDS = 60


class RepairKind(StrEnum):
    RELEASED = "released"  # a slot nothing would ever free
    RECORDED_END = "recorded_end"  # an end whose event never arrived (or failed): recorded, slot freed
    RELAUNCHED = "relaunched"  # dispatched from the queue, never reached Step Functions: started again
    ABANDONED = "abandoned"  # a start that never reached Step Functions in time: FAILED, slot freed
    TIMED_OUT = "timed_out"  # waited in the queue past maxQueueSeconds: FAILED
    DISPATCHED = "dispatched"  # waiting while a slot was free: started


@dataclass(frozen=True)
class Repair:
    kind: RepairKind
    workflow: str
    execution_id: str
    reason: str


class Reconcile:
    def __init__(
        self,
        registry: Registry,
        store: ExecutionStore,
        slots: SlotStore,
        queue: WorkflowQueue,
        engine: WorkflowEngine,
        admission_control: Admission,
        status_changes: ApplyStatusChange,
        settings: Settings,
        clock: Clock = utcnow,
    ) -> None:
        self._registry = registry
        self._store = store
        self._slots = slots
        self._queue = queue
        self._engine = engine
        self._admission = admission_control
        self._status_changes = status_changes
        self._settings = settings
        self._clock = clock

    def run(self) -> list[Repair]:
        """One pass over every workflow."""
        return [repair for name in self._registry for repair in self.workflow(self._registry[name])]

    def workflow(self, workflow: Workflow) -> list[Repair]:
        now = self._clock()
        run = int(now.timestamp() // RUN_SECONDS)
        holders = admission.holders_to_check(
            self._slots.read(workflow.name).holders, run, MAX_HOLDERS_CHECKED
        )
        records = self._store.get_many([holder.execution_id for holder in holders], now.timestamp())
        repairs = [
            repair
            for holder in holders
            if (repair := self._holder(workflow, holder, records.get(holder.execution_id), now)) is not None
        ]
        for order in self._queue.orders(workflow.name):
            if admission.is_overdue(
                admission.queued_at_of(order), workflow, now
            ) and self._admission.time_out(workflow, order):
                repairs.append(
                    Repair(
                        RepairKind.TIMED_OUT, workflow.name, admission.execution_of(order), "queue deadline"
                    )
                )
        repairs += [
            Repair(RepairKind.DISPATCHED, workflow.name, execution_id, "a slot was free")
            for execution_id in self._admission.fill(workflow)
        ]
        return repairs

    def _holder(
        self, workflow: Workflow, holder: Holder, record: ExecutionRecord | None, now: datetime
    ) -> Repair | None:
        verdict = admission.judge_holder(holder, record, now.timestamp(), self._settings.slot_grace_seconds)
        if verdict is Verdict.KEEP:
            return None
        if verdict is Verdict.RELEASE:
            why = "no record" if record is None else "its record never left the queue or ran again since"
            return self._release(workflow, holder, why)
        assert record is not None
        observation = self._engine.describe(record.execution_arn)
        if observation is None:
            return self._never_started(workflow, holder, record, now)
        if not observation.status.is_terminal:
            return None  # it runs: the slot is rightly held
        self._status_changes.apply(sync.observed_change(record, observation, holder.attempt))
        return Repair(
            RepairKind.RECORDED_END,
            workflow.name,
            holder.execution_id,
            f"{observation.status.value} unrecorded",
        )

    def _never_started(
        self, workflow: Workflow, holder: Holder, record: ExecutionRecord, now: datetime
    ) -> Repair | None:
        """A holder whose execution Step Functions has never heard of."""
        if record.status.is_terminal:  # cancelled, or refused, before it got there
            return self._release(workflow, holder, f"{record.status.value} before it reached Step Functions")
        sent_at = record.dispatched_at or record.created_at
        if now < sent_at + timedelta(seconds=self._settings.start_deadline_seconds):
            if record.dispatched_at is None:
                return None  # a start whose client may retry it with its key (the take-over starts it)
            # Its caller holds its id from the 202 QUEUED: it is owed its run.
            self._admission.launch(record)
            return Repair(
                RepairKind.RELAUNCHED, workflow.name, holder.execution_id, "dispatched, never started"
            )
        abandoned = status.current_record(record, None, now, self._settings.start_deadline_seconds)
        self._store.finish(status.retained(abandoned, workflow))
        self._slots.release(workflow.name, holder.execution_id, holder.attempt)
        return Repair(
            RepairKind.ABANDONED, workflow.name, holder.execution_id, "never reached Step Functions"
        )

    def _release(self, workflow: Workflow, holder: Holder, why: str) -> Repair | None:
        if not self._slots.release(workflow.name, holder.execution_id, holder.attempt):
            return None
        return Repair(RepairKind.RELEASED, workflow.name, holder.execution_id, why)
