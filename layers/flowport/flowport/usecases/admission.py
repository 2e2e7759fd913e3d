"""Use case: admission control. A start takes a slot of its workflow or waits in its queue; an ended
execution's slot goes to the next waiting one (rules: flowport.core.admission).

Every step is a conditional write that one of any number of racing callers wins, so no interleaving
hands out more slots than the limit; a step that dies half-way leaves a state the reconciler
(flowport.usecases.reconcile) recognises and repairs.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flowport.core import admission, inputs, retry
from flowport.core.admission import Hold, Holder
from flowport.core.clock import Clock, utcnow
from flowport.core.models import ExecutionRecord
from flowport.core.ports import ExecutionStore, SlotStore, WorkflowEngine, WorkflowQueue
from flowport.core.registry import Registry, Workflow
from flowport.settings import Settings

logger = logging.getLogger(__name__)
# A dispatch tries this many waiting executions at most: more than one only when the index lags behind
# executions that left the queue a moment ago.
DISPATCH_CANDIDATES = 10


class Admission:
    def __init__(
        self,
        registry: Registry,
        store: ExecutionStore,
        slots: SlotStore,
        queue: WorkflowQueue,
        engine: WorkflowEngine,
        settings: Settings,
        clock: Clock = utcnow,
    ) -> None:
        self._registry = registry
        self._store = store
        self._slots = slots
        self._queue = queue
        self._engine = engine
        self._settings = settings
        self._clock = clock

    def limit(self, workflow: Workflow) -> int | None:
        return admission.limit_of(workflow, self._settings.default_max_concurrency)

    def admit(self, record: ExecutionRecord) -> Hold:
        """Take a slot for the record's attempt: how it holds one, if it may start now; REFUSED if it must
        wait."""
        workflow = self._registry[record.workflow]
        holder = Holder(record.execution_id, record.redrive_count, self._clock().timestamp())
        limit = self.limit(workflow)
        taken = self._slots.take(record.workflow, holder, limit)
        if taken is not Hold.REFUSED or not record.redrive_count:
            return taken
        # A retry of an execution whose end has not freed its slot yet keeps that slot for its new attempt;
        # if that end freed it between the two writes, the slot is to be taken as by any start.
        if self._slots.renew(record.workflow, holder, from_attempt=record.redrive_count - 1):
            return Hold.RENEWED
        return self._slots.take(record.workflow, holder, limit)

    def give_back(self, record: ExecutionRecord, hold: Hold) -> None:
        """Undo what `admit` did for a record that will not run (its start was refused): free the slot it
        took, or hand a renewed one back to the attempt before (which may still run: a retry of a record
        that had not heard of its end, refused by Step Functions). A slot the attempt held already is
        another request's to give back."""
        if hold is Hold.TAKEN:
            self._slots.release(record.workflow, record.execution_id, record.redrive_count)
        elif hold is Hold.RENEWED:
            previous = Holder(record.execution_id, record.redrive_count - 1, self._clock().timestamp())
            self._slots.renew(record.workflow, previous, from_attempt=record.redrive_count)

    def waiting(self, record: ExecutionRecord, now: datetime) -> ExecutionRecord:
        """The record as it joins its workflow's queue."""
        workflow = self._registry[record.workflow]
        order = admission.queue_order(record.priority, now, record.execution_id, record.redrive_count)
        # It may wait up to its deadline before its run (and retention) even begins.
        expires_at = record.expires_at + workflow.max_queue_seconds
        return record.model_copy(
            update={"queued_at": now, "queue_order": order, "dispatched_at": None, "expires_at": expires_at}
        )

    def recheck(self, record: ExecutionRecord) -> bool:
        """After a record refused a slot joined its workflow's queue, take one again: a slot freed since the
        refused take, by an end that found nobody waiting yet, would otherwise stay idle until the next end
        or the reconciler. True if it took one, and then it has started. A start that waits costs this one
        more refused take; conditioning its queue write on the slots instead (a transaction) would keep it
        at two calls, but puts transactions on the item every take and release writes, and DynamoDB
        refuses writes that meet one in flight (TransactionConflictException, which botocore does not
        retry)."""
        assert record.queue_order is not None
        holder = Holder(record.execution_id, record.redrive_count, self._clock().timestamp())
        limit = self.limit(self._registry[record.workflow])
        if self._slots.take(record.workflow, holder, limit) is not Hold.TAKEN:
            return False
        if self._dispatch(record.queue_order, self._clock()):
            return True
        # It left the queue meanwhile (cancelled): the slot it just took is free again.
        self._slots.release(record.workflow, record.execution_id, record.redrive_count)
        return False

    def launch(self, record: ExecutionRecord) -> None:
        """Start the record's attempt in Step Functions (a redrive when it is not the first)."""
        if record.redrive_count:
            self._engine.redrive(
                record.execution_arn, retry.client_token(record.execution_id, record.redrive_count)
            )
        else:
            self._engine.start(
                record.state_machine_arn, record.execution_id, inputs.serialize_input(record.input)
            )

    def release_and_dispatch(self, workflow_name: str, execution_id: str, attempt: int) -> None:
        """An attempt ended: its slot goes to the next waiting execution, which starts, in four calls (the
        queue's head, the hand-over, the claim of the record, the start). A repeated or late end finds
        the slot freed already and changes nothing."""
        freed = Holder(execution_id, attempt, 0)
        workflow = self._registry.get(workflow_name)
        if workflow is None:  # removed from the stack: nothing of it can wait
            self._slots.release(workflow_name, execution_id, attempt)
            return
        now = self._clock()
        head = self._queue.head(workflow.name, 1)
        if head and not admission.is_overdue(admission.queued_at_of(head[0]), workflow, now):
            successor = admission.holder_of(head[0], now.timestamp())
            if self._slots.hand_over(workflow.name, freed, successor):
                if self._dispatch(head[0], now):
                    return
                # The index was behind: that one left the queue a moment ago. Its slot is free again.
                self._slots.release(workflow.name, successor.execution_id, successor.attempt)
                self.fill(workflow)
                return
        if self._slots.release(workflow.name, execution_id, attempt) and (
            head or self.limit(workflow) is not None
        ):
            # A start may have joined the queue since the head was read, its second take (`recheck`)
            # refused by this very slot: a limited workflow's queue is looked at again.
            self.fill(workflow)

    def fill(self, workflow: Workflow) -> list[str]:
        """Start waiting executions while slots are free (the reconciler's dispatch, and a dispatch that
        found the head of the queue gone); the ids of those started."""
        started: list[str] = []
        now = self._clock()
        for order in self._queue.head(workflow.name, DISPATCH_CANDIDATES):
            if admission.is_overdue(admission.queued_at_of(order), workflow, now):
                self.time_out(workflow, order)
                continue
            successor = admission.holder_of(order, now.timestamp())
            if self._slots.take(workflow.name, successor, self.limit(workflow)) is Hold.REFUSED:
                break
            if self._dispatch(order, now):
                started.append(successor.execution_id)
            else:
                self._slots.release(workflow.name, successor.execution_id, successor.attempt)
        return started

    def time_out(self, workflow: Workflow, order: str) -> bool:
        """End a waiting execution whose queue deadline passed; False if it no longer waits."""
        record = self._store.get(admission.execution_of(order), self._clock().timestamp())
        if record is None or record.queue_order != order:
            return False
        return self._store.finish_waiting(admission.timed_out_in_queue(record, workflow), order)

    def _dispatch(self, order: str, now: datetime) -> bool:
        """Take a waiting execution (whose slot is held) out of the queue and start it; False if it no
        longer waits. A start Step Functions refuses is left to the reconciler, which starts it again."""
        record = self._store.claim_dispatch(admission.execution_of(order), order, now)
        if record is None:
            return False
        try:
            self.launch(record)
        except Exception:
            logger.exception("dispatch of %s did not reach Step Functions", record.execution_id)
        return True
