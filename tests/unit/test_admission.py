"""Admission control: the rules (flowport.core.admission) and the use cases on in-memory fakes (start,
end, cancel, read, reconcile), with a clock the test moves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from unittest.mock import patch

import pytest
from flowport.core import admission
from flowport.core.admission import Holder, Verdict
from flowport.core.errors import IdempotencyConflict, ServiceUnavailable
from flowport.core.models import ConflictStrategy, ExecutionRecord, ExecutionSource, ExecutionStatus
from flowport.core.registry import Workflow
from flowport.core.status import STEP_FUNCTIONS_STATUS
from flowport.usecases.reconcile import Reconcile, RepairKind
from flowport.usecases.retry import RetryCommand, RetryExecution
from flowport.usecases.start import StartCommand

from tests.fakes import START
from tests.support import ADMIN
from tests.unit.test_usecases import REGISTRY, SETTINGS, World

PARTNER = REGISTRY["partner-sync"]
LIMIT = 2
assert PARTNER.max_concurrency == LIMIT


@contextmanager
def starts_throttled(world: World) -> Iterator[None]:
    """Step Functions refuses every StartExecution meanwhile (and answers the rest)."""

    def throttled(*_: Any) -> None:
        world.engine.calls.append("start")
        raise ServiceUnavailable("Step Functions is throttling")

    with patch.object(world.engine, "start", throttled):
        yield


class AdmissionWorld(World):
    def __init__(self) -> None:
        super().__init__()
        self.reconciler = Reconcile(
            REGISTRY,
            self.store,
            self.slots,
            self.store,
            self.engine,
            self.admission,
            self.sync,
            SETTINGS,
            clock=self.clock,
        )

    def push(self, batch: str, priority: int = 0, **options: Any) -> ExecutionRecord:
        """Start partner-sync (at most two run at once), a moment after the previous start."""
        self.clock.advance(0.001)
        command = StartCommand(
            workflow="partner-sync",
            version=None,
            input={"batchId": batch},
            source=ExecutionSource.HTTP_POST,
            caller=ADMIN,
            priority=priority,
            **options,
        )
        execution_id = self.starter.start(command).execution.execution_id
        return self.store.records[execution_id]

    def end(self, record: ExecutionRecord, status: str = "SUCCEEDED", **detail: Any) -> None:
        """Step Functions ends the execution and its status change arrives."""
        current = self.store.records[record.execution_id]
        events = self.history(current)
        events.append({"id": len(events) + 1, "type": f"Execution{status.title()}"})
        output = {"output": "{}"} if status == "SUCCEEDED" else {}
        self.sync.apply(self.change(current, status, **{**output, **detail}))

    def running(self) -> set[str]:
        """The executions Step Functions has started and not ended."""
        ended = {"ExecutionSucceeded", "ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}
        return {
            arn.rpartition(":")[2]
            for arn, events in self.engine.histories.items()
            if events[-1]["type"] not in ended
        }

    def batch(self, execution_id: str) -> str:
        return str(self.store.records[execution_id].input["batchId"])

    def status_of(self, record: ExecutionRecord) -> Any:
        return self.reader.status(record.execution_id, ADMIN)


@pytest.fixture
def world() -> AdmissionWorld:
    return AdmissionWorld()


# The rules


def test_the_queue_order_runs_the_highest_priority_first_and_first_in_first_out_within_one():
    first, later = START, START + timedelta(seconds=1)
    orders = {
        "urgent-late": admission.queue_order(99, later, "e1"),
        "normal-first": admission.queue_order(0, first, "e2"),
        "normal-later": admission.queue_order(0, later, "e3"),
        "mid": admission.queue_order(50, later, "e4"),
    }
    assert sorted(orders, key=orders.__getitem__) == ["urgent-late", "mid", "normal-first", "normal-later"]


def test_a_queue_order_says_when_which_attempt_of_which_execution_queued():
    order = admission.queue_order(7, START, "0b7e", attempt=2)
    assert admission.queued_at_of(order) == START
    assert admission.execution_of(order) == "0b7e"
    assert admission.holder_of(order, 5.0) == Holder("0b7e", 2, 5.0)


def test_a_workflows_own_limit_wins_over_the_stacks_default():
    unlimited = Workflow.model_validate({"name": "w", "versions": [1]})
    assert admission.limit_of(unlimited, 0) is None
    assert admission.limit_of(unlimited, 10) == 10
    assert admission.limit_of(PARTNER, 10) == LIMIT


@pytest.mark.parametrize("limit", [0, 5001])
def test_a_limit_out_of_range_is_refused(limit: int):
    with pytest.raises(ValueError, match="maxConcurrency"):
        Workflow.model_validate({"name": "w", "versions": [1], "maxConcurrency": limit})


def test_a_holder_is_judged_by_its_record_and_only_after_the_grace():
    grace = SETTINGS.slot_grace_seconds
    holder = Holder("e1", 0, since=1000.0)
    young, settled = 1000.0 + grace - 1, 1000.0 + grace
    assert admission.judge_holder(holder, None, young, grace) is Verdict.KEEP
    assert admission.judge_holder(holder, None, settled, grace) is Verdict.RELEASE
    record = World().start()  # any record: one that does not wait
    assert admission.judge_holder(holder, record, young, grace) is Verdict.KEEP
    assert admission.judge_holder(holder, record, settled, grace) is Verdict.ASK_ENGINE
    waits = record.model_copy(update={"queue_order": admission.queue_order(0, START, "e1")})
    assert admission.judge_holder(holder, waits, settled, grace) is Verdict.RELEASE
    redriven = record.model_copy(update={"redrive_count": 1})
    assert admission.judge_holder(holder, redriven, young, grace) is Verdict.RELEASE


# Starting: a slot, or the queue


def test_starts_over_the_limit_wait_in_the_queue_and_never_reach_step_functions(world: AdmissionWorld):
    records = [world.push(f"b{number}") for number in range(4)]
    assert [record.waiting for record in records] == [False, False, True, True]
    assert world.running() == {records[0].execution_id, records[1].execution_id}
    assert world.engine.calls.count("start") == LIMIT
    document = world.status_of(records[3])
    assert document.status is ExecutionStatus.QUEUED
    assert (document.queued_at, document.queue_position) == (records[3].queued_at, 2)
    assert world.engine.calls.count("history_page") == 0  # nothing to read of one that waits


def test_a_workflow_without_a_limit_never_queues(world: AdmissionWorld):
    records = [world.start(subject=f"ticket {number}") for number in range(30)]
    assert not any(record.waiting for record in records)
    assert len(world.slots.running("ticket-triage")) == 30  # counted all the same


def test_a_retried_key_returns_the_queued_execution_and_never_queues_another(world: AdmissionWorld):
    world.push("b0")
    world.push("b1")
    keyed = {"idempotency_key": "k-1", "on_conflict": ConflictStrategy.RETURN_EXISTING}
    queued = world.push("b2", **keyed)
    again = world.push("b2", **keyed)
    assert again.execution_id == queued.execution_id
    assert world.store.length("partner-sync") == 1
    with pytest.raises(IdempotencyConflict, match="QUEUED"):
        world.push("b2", idempotency_key="k-1", on_conflict=ConflictStrategy.FAIL_ON_RUNNING)


# Ending: the slot goes to the next waiting execution


def test_an_end_starts_the_next_by_priority_then_by_arrival(world: AdmissionWorld):
    world.push("running-1")
    world.push("running-2")
    world.push("low-early", priority=0)
    world.push("high-late", priority=90)
    world.push("low-late", priority=0)
    world.push("mid", priority=50)
    while world.running():
        for execution_id in sorted(world.running()):
            world.end(world.store.records[execution_id])
    started = [world.batch(arn.rpartition(":")[2]) for arn in world.engine.histories]  # in start order
    assert started == ["running-1", "running-2", "high-late", "mid", "low-early", "low-late"]
    assert world.slots.running("partner-sync") == set()


def test_release_and_dispatch_costs_four_calls(world: AdmissionWorld):
    first = world.push("b0")
    world.push("b1")
    world.push("b2")
    world.store.calls.clear()
    world.slots.calls.clear()
    world.engine.calls.clear()
    world.admission.release_and_dispatch("partner-sync", first.execution_id, 0)
    calls = world.store.calls + world.slots.calls + world.engine.calls
    assert sorted(calls) == ["claim_dispatch", "hand_over", "queue_head", "start"]


@contextmanager
def end_after_the_first_refused_take(world: AdmissionWorld, record: ExecutionRecord) -> Iterator[list[str]]:
    """`record` ends right after the first take a slot is refused to: before that start's queue write."""
    take = world.slots.take
    refused: list[str] = []

    def take_then_end(workflow: str, holder: Holder, limit: int | None) -> admission.Hold:
        taken = take(workflow, holder, limit)
        if taken is admission.Hold.REFUSED and not refused:
            refused.append(holder.execution_id)
            world.end(record)
        return taken

    with patch.object(world.slots, "take", take_then_end):
        yield refused


@pytest.mark.parametrize("keyed", [False, True])
def test_a_slot_freed_while_a_start_joins_the_queue_goes_to_that_start(world: AdmissionWorld, keyed: bool):
    """The end ran between the start's refused take and its queue write: it found nobody waiting."""
    first, second = world.push("b0"), world.push("b1")
    options: dict[str, Any] = (
        {"idempotency_key": "k-late", "on_conflict": ConflictStrategy.RETURN_EXISTING} if keyed else {}
    )
    with end_after_the_first_refused_take(world, first) as refused:
        late = world.push("b2", **options)
    assert refused == [late.execution_id]
    assert late.execution_id in world.running()  # not left to the reconciler
    assert not world.store.records[late.execution_id].waiting
    assert world.slots.running("partner-sync") == {second.execution_id, late.execution_id}


def test_a_slot_freed_while_a_retry_joins_the_queue_goes_to_that_retry(world: AdmissionWorld):
    failed = world.push("failed")
    world.end(failed, "FAILED")
    first, second = world.push("b0"), world.push("b1")
    retrier = RetryExecution(
        REGISTRY, world.store, world.store, world.engine, world.admission, SETTINGS, world.clock
    )
    with end_after_the_first_refused_take(world, first) as refused:
        answer = retrier.retry(RetryCommand(failed.execution_id, ADMIN))
    assert refused == [failed.execution_id]
    assert answer.execution.status is ExecutionStatus.RUNNING
    assert world.engine.calls.count("redrive") == 1
    assert world.slots.running("partner-sync") == {second.execution_id, failed.execution_id}
    assert world.store.length("partner-sync") == 0


def test_a_start_queued_after_an_end_read_the_queue_is_dispatched_by_that_end(world: AdmissionWorld):
    """The start queued (its second take refused too) between the end's look at the queue and its
    release: the end looks again."""
    first, second = world.push("b0"), world.push("b1")
    head = world.store.head
    queued: list[ExecutionRecord] = []

    def head_then_start(workflow: str, count: int) -> list[str]:
        found = head(workflow, count)
        if not queued:
            queued.append(world.push("b2"))
        return found

    with patch.object(world.store, "head", head_then_start):
        world.end(first)
    (late,) = queued
    assert late.execution_id in world.running()
    assert world.slots.running("partner-sync") == {second.execution_id, late.execution_id}
    assert world.store.length("partner-sync") == 0


def test_an_end_of_an_unlimited_workflow_with_nobody_waiting_reads_the_queue_once(world: AdmissionWorld):
    record = world.start(subject="ticket")
    world.store.calls.clear()
    world.admission.release_and_dispatch("ticket-triage", record.execution_id, 0)
    assert world.store.calls.count("queue_head") == 1


def test_an_end_reported_twice_or_late_frees_one_slot_once(world: AdmissionWorld):
    first, second = world.push("b0"), world.push("b1")
    third, fourth = world.push("b2"), world.push("b3")
    world.end(first)
    assert third.execution_id in world.running()
    world.sync.apply(world.change(world.store.records[first.execution_id], "SUCCEEDED"))  # again
    world.admission.release_and_dispatch("partner-sync", first.execution_id, 0)  # and again
    assert fourth.execution_id not in world.running()
    assert world.store.records[fourth.execution_id].waiting
    assert world.slots.running("partner-sync") == {second.execution_id, third.execution_id}


def test_a_late_end_of_an_earlier_attempt_does_not_free_the_slot_of_the_next(world: AdmissionWorld):
    first = world.push("b0")
    world.push("b1")
    world.push("b2")
    world.admission.release_and_dispatch("partner-sync", first.execution_id, attempt=1)
    assert world.slots.running("partner-sync") >= {first.execution_id}
    assert world.store.length("partner-sync") == 1


@pytest.mark.parametrize("status", ["FAILED", "TIMED_OUT", "ABORTED"])
def test_every_way_of_ending_frees_the_slot(world: AdmissionWorld, status: str):
    first = world.push("b0")
    world.push("b1")
    waiting = world.push("b2")
    world.end(first, status)
    assert world.store.records[first.execution_id].status is STEP_FUNCTIONS_STATUS[status]
    assert waiting.execution_id in world.running()


# Cancelling and timing out in the queue


def test_a_cancelled_waiting_execution_leaves_the_queue_and_never_runs(world: AdmissionWorld):
    first = world.push("b0")
    world.push("b1")
    waiting = world.push("b2")
    world.engine.calls.clear()
    result = world.canceller.cancel(waiting.execution_id, ADMIN)
    assert (result.cancelled, result.previous_status) == (True, ExecutionStatus.QUEUED)
    assert "stop" not in world.engine.calls  # it never reached Step Functions
    assert world.store.length("partner-sync") == 0
    world.end(first)
    assert waiting.execution_id not in world.engine.histories
    assert world.store.records[waiting.execution_id].status is ExecutionStatus.CANCELLED


def test_an_execution_queued_past_its_deadline_fails_with_queue_timeout(world: AdmissionWorld):
    world.push("b0")
    world.push("b1")
    waiting = world.push("b2")
    world.clock.advance(PARTNER.max_queue_seconds)
    document = world.status_of(waiting)  # before anyone writes it
    assert (document.status, document.error and document.error.code) == (
        ExecutionStatus.FAILED,
        "queue_timeout",
    )
    deadline = waiting.created_at + timedelta(seconds=PARTNER.max_queue_seconds)
    assert document.completed_at == deadline
    assert document.cleanup_after == deadline + timedelta(hours=PARTNER.retention_hours)
    repairs = world.reconciler.run()
    assert [(repair.kind, repair.execution_id) for repair in repairs] == [
        (RepairKind.TIMED_OUT, waiting.execution_id)
    ]
    stored = world.store.records[waiting.execution_id]
    assert (stored.status, stored.waiting, stored.completed_at) == (ExecutionStatus.FAILED, False, deadline)
    assert world.status_of(waiting) == document


def test_the_start_deadline_does_not_apply_to_an_execution_waiting_in_the_queue(world: AdmissionWorld):
    world.push("b0")
    world.push("b1")
    waiting = world.push("b2")
    world.clock.advance(SETTINGS.start_deadline_seconds * 3)
    assert world.status_of(waiting).status is ExecutionStatus.QUEUED


def test_the_start_deadline_counts_from_the_dispatch_of_one_that_waited(world: AdmissionWorld):
    first = world.push("b0")
    world.push("b1")
    waiting = world.push("b2")
    world.clock.advance(SETTINGS.start_deadline_seconds * 2)
    with starts_throttled(world):
        world.end(first)  # the dispatch takes the slot and claims the record, but the start is refused
    dispatched = world.store.records[waiting.execution_id]
    assert (dispatched.waiting, dispatched.dispatched_at) == (False, world.clock.now)
    assert world.status_of(waiting).status is ExecutionStatus.QUEUED
    world.clock.advance(SETTINGS.start_deadline_seconds)
    assert world.status_of(waiting).error.code == "start_abandoned"  # type: ignore[union-attr]


# The reconciler: every seam a crash or a lost event can leave


def ServiceUnavailableForTest() -> Any:
    from flowport.core.errors import ServiceUnavailable

    return ServiceUnavailable("Step Functions is throttling")


def settle(world: AdmissionWorld) -> None:
    world.clock.advance(SETTINGS.slot_grace_seconds)


def test_a_slot_taken_by_a_start_that_died_before_its_record_is_freed(world: AdmissionWorld):
    world.slots.take("partner-sync", Holder("ghost", 0, world.clock.now.timestamp()), LIMIT)
    assert world.reconciler.run() == []  # it may still be on its way
    settle(world)
    (repair,) = world.reconciler.run()
    assert (repair.kind, repair.execution_id) == (RepairKind.RELEASED, "ghost")
    assert world.slots.running("partner-sync") == set()


def test_a_crash_between_hand_over_and_claim_heals_and_the_next_runs(world: AdmissionWorld):
    first = world.push("b0")
    world.push("b1")
    waiting = world.push("b2")
    # The sync function handed the slot over, then died.
    successor = admission.holder_of(waiting.queue_order or "", world.clock.now.timestamp())
    assert world.slots.hand_over("partner-sync", Holder(first.execution_id, 0, 0), successor)
    settle(world)
    repairs = world.reconciler.run()
    kinds = {(repair.kind, repair.execution_id) for repair in repairs}
    assert (RepairKind.RELEASED, waiting.execution_id) in kinds
    assert (RepairKind.DISPATCHED, waiting.execution_id) in kinds
    assert waiting.execution_id in world.running()
    assert len(world.slots.running("partner-sync")) == LIMIT


def test_a_crash_between_claim_and_start_heals_by_starting_it(world: AdmissionWorld):
    first = world.push("b0")
    world.push("b1")
    waiting = world.push("b2")
    with starts_throttled(world):
        world.end(first)
    assert waiting.execution_id not in world.running()
    settle(world)
    (repair,) = world.reconciler.run()
    assert (repair.kind, repair.execution_id) == (RepairKind.RELAUNCHED, waiting.execution_id)
    assert waiting.execution_id in world.running()


def test_an_end_whose_event_never_came_is_recorded_and_frees_the_slot(world: AdmissionWorld):
    first = world.push("b0")
    world.push("b1")
    waiting = world.push("b2")
    world.history(first).append({"id": 2, "type": "ExecutionSucceeded"})
    world.engine.outputs[first.execution_arn] = {"pushed": 3}
    settle(world)
    repairs = world.reconciler.run()
    assert (RepairKind.RECORDED_END, first.execution_id) in {(r.kind, r.execution_id) for r in repairs}
    assert world.store.records[first.execution_id].status is ExecutionStatus.COMPLETED
    assert waiting.execution_id in world.running()


def test_a_queued_execution_a_free_slot_missed_is_dispatched(world: AdmissionWorld):
    world.push("b0")
    world.push("b1")
    waiting = world.push("b2")
    # A slot freed while the start was queueing it: the dispatch found the queue empty.
    first_holder = sorted(world.slots.running("partner-sync") - {waiting.execution_id})[0]
    world.slots.release("partner-sync", first_holder, 0)
    (repair,) = world.reconciler.run()
    assert (repair.kind, repair.execution_id) == (RepairKind.DISPATCHED, waiting.execution_id)


def test_a_healthy_workflow_needs_no_repair(world: AdmissionWorld):
    world.push("b0")
    world.push("b1")
    world.push("b2")
    settle(world)
    assert world.reconciler.run() == []
    assert len(world.slots.running("partner-sync")) == LIMIT


def test_a_start_that_never_reached_step_functions_is_abandoned_after_the_deadline(world: AdmissionWorld):
    with starts_throttled(world), pytest.raises(ServiceUnavailable):
        world.push("b0", idempotency_key="k-9", on_conflict=ConflictStrategy.RETURN_EXISTING)
    (held,) = world.slots.running("partner-sync")  # kept for the key's retry to start it
    settle(world)
    assert world.reconciler.run() == []
    world.clock.advance(SETTINGS.start_deadline_seconds)
    (repair,) = world.reconciler.run()
    assert (repair.kind, repair.execution_id) == (RepairKind.ABANDONED, held)
    assert world.store.records[held].error.code == "start_abandoned"  # type: ignore[union-attr]
    assert world.slots.running("partner-sync") == set()


def test_a_reconciler_run_looks_at_the_next_holders_so_every_one_is_looked_at_in_turn():
    holders = [Holder(f"e{n:03d}", 0, float(n)) for n in range(250)]
    windows = [admission.holders_to_check(holders, run, 100) for run in range(7, 10)]
    assert [len(window) for window in windows] == [100, 100, 100]
    assert {holder.execution_id for window in windows for holder in window} == {
        h.execution_id for h in holders
    }
    assert admission.holders_to_check(holders[:40], 7, 100) == holders[:40]  # few: all of them, every run
