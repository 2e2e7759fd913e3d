"""Slots, the queue index and the records' queue transitions, against moto on the table template.yaml
declares."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import boto3
import pytest
from flowport.aws.queue import QueueIndex
from flowport.aws.slots import SlotStore
from flowport.aws.store import ExecutionStore
from flowport.core import admission
from flowport.core.admission import Hold, Holder
from flowport.core.models import ExecutionRecord, ExecutionStatus
from flowport.local.cloud import LocalCloud

from tests.aws.test_store import NOW, record

WORKFLOW = "ticket-triage"


@pytest.fixture
def table(cloud: LocalCloud) -> str:
    (table,) = cloud.stack.tables.values()
    return table.name


@pytest.fixture
def slots(table: str) -> SlotStore:
    return SlotStore(boto3.client("dynamodb"), table)


@pytest.fixture
def queue(table: str) -> QueueIndex:
    return QueueIndex(boto3.client("dynamodb"), table)


@pytest.fixture
def store(table: str) -> ExecutionStore:
    return ExecutionStore(boto3.client("dynamodb"), table)


def holder(execution_id: str, attempt: int = 0) -> Holder:
    return Holder(execution_id, attempt, NOW.timestamp())


def waiting(execution_id: str, priority: int = 0, seconds: float = 0) -> ExecutionRecord:
    queued_at = NOW + timedelta(seconds=seconds)
    order = admission.queue_order(priority, queued_at, execution_id)
    return record(
        execution_id, priority=priority, queued_at=queued_at, queue_order=order, idempotency_key_hash=None
    )


# Slots


def test_takes_stop_at_the_limit_and_a_retried_take_counts_once(slots: SlotStore):
    assert slots.take(WORKFLOW, holder("a"), limit=2) is Hold.TAKEN
    assert slots.take(WORKFLOW, holder("a"), limit=2) is Hold.HELD  # the same attempt again
    assert slots.take(WORKFLOW, holder("b"), limit=2) is Hold.TAKEN
    assert slots.take(WORKFLOW, holder("c"), limit=2) is Hold.REFUSED
    # Another attempt needs its own, limit or none.
    assert slots.take(WORKFLOW, holder("a", attempt=1), limit=2) is Hold.REFUSED
    assert slots.take(WORKFLOW, holder("a", attempt=1), limit=None) is Hold.REFUSED
    assert [h.execution_id for h in slots.read(WORKFLOW).holders] == ["a", "b"]
    assert slots.take(WORKFLOW, holder("c"), limit=None) is Hold.TAKEN  # no limit: every take is counted


def test_racing_takes_hand_out_exactly_the_limit(slots: SlotStore):
    with ThreadPoolExecutor(max_workers=16) as pool:
        won = list(pool.map(lambda n: slots.take(WORKFLOW, holder(f"e{n}"), limit=3), range(40)))
    assert won.count(Hold.TAKEN) == 3
    assert slots.read(WORKFLOW).running == 3


def test_a_slot_is_released_once_and_only_for_its_attempt(slots: SlotStore, table: str):
    slots.take(WORKFLOW, holder("a", attempt=1), limit=1)
    assert not slots.release(WORKFLOW, "a", attempt=0)  # a late end of the attempt before
    assert slots.release(WORKFLOW, "a", attempt=1)
    assert not slots.release(WORKFLOW, "a", attempt=1)  # the same end again
    assert not slots.release(WORKFLOW, "never-held", attempt=0)
    item = boto3.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": f"SLOTS#{WORKFLOW}"}, "sk": {"S": "SLOTS"}}
    )["Item"]
    assert item == {"pk": {"S": f"SLOTS#{WORKFLOW}"}, "sk": {"S": "SLOTS"}, "running": {"N": "0"}}


def test_a_hand_over_moves_the_slot_without_freeing_it(slots: SlotStore):
    slots.take(WORKFLOW, holder("a"), limit=1)
    assert slots.hand_over(WORKFLOW, holder("a"), holder("b"))
    assert not slots.hand_over(WORKFLOW, holder("a"), holder("c"))  # a's slot is b's now
    assert slots.take(WORKFLOW, holder("c"), limit=1) is Hold.REFUSED  # still full
    slots.take(WORKFLOW, holder("c"), limit=2)
    assert not slots.hand_over(WORKFLOW, holder("b"), holder("c"))  # c holds one already
    assert {h.execution_id for h in slots.read(WORKFLOW).holders} == {"b", "c"}


# The queue index


def test_the_queue_is_read_in_the_order_it_runs(store: ExecutionStore, queue: QueueIndex):
    for execution_id, priority, seconds in [("low", 0, 0), ("high", 99, 2), ("mid", 50, 1), ("low2", 0, 3)]:
        store.create(waiting(execution_id, priority, seconds), None, now=NOW.timestamp())
    store.create(record("running", idempotency_key_hash=None), None, now=NOW.timestamp())  # not waiting
    orders = queue.orders(WORKFLOW)
    assert [admission.execution_of(order) for order in orders] == ["high", "mid", "low", "low2"]
    assert queue.head(WORKFLOW, 1) == orders[:1]
    assert [queue.ahead_of(WORKFLOW, order) for order in orders] == [0, 1, 2, 3]
    assert queue.length(WORKFLOW) == 4
    assert queue.length("partner-sync") == 0


def test_a_claimed_execution_leaves_the_queue_once(store: ExecutionStore, queue: QueueIndex):
    store.create(waiting("a"), None, now=NOW.timestamp())
    (order,) = queue.orders(WORKFLOW)
    claimed = store.claim_dispatch("a", order, NOW)
    assert claimed is not None
    assert (claimed.waiting, claimed.dispatched_at, claimed.status) == (False, NOW, ExecutionStatus.QUEUED)
    assert store.claim_dispatch("a", order, NOW) is None
    assert queue.length(WORKFLOW) == 0
    assert not store.finish_waiting(admission.timed_out_in_queue(waiting("a"), _workflow()), order)


def test_a_cancel_claim_keeps_a_waiting_execution_from_its_dispatch(store: ExecutionStore, queue: QueueIndex):
    from tests.support import ADMIN

    store.create(waiting("a"), None, now=NOW.timestamp())
    (order,) = queue.orders(WORKFLOW)
    assert store.claim_cancel("a", NOW, ADMIN.reach()).won
    assert store.claim_dispatch("a", order, NOW) is None
    cancelled = store.get("a", NOW.timestamp())
    assert cancelled is not None
    assert store.finish(
        cancelled.model_copy(update={"status": ExecutionStatus.CANCELLED, "completed_at": NOW})
    )
    assert queue.length(WORKFLOW) == 0


def test_a_timed_out_execution_leaves_the_queue_failed(store: ExecutionStore, queue: QueueIndex):
    store.create(waiting("a"), None, now=NOW.timestamp())
    (order,) = queue.orders(WORKFLOW)
    timed_out = admission.timed_out_in_queue(store.get("a", NOW.timestamp()) or waiting("a"), _workflow())
    assert store.finish_waiting(timed_out, order)
    assert not store.finish_waiting(timed_out, order)
    stored = store.get("a", NOW.timestamp())
    assert stored is not None
    assert (stored.status, stored.error, stored.waiting) == (
        ExecutionStatus.FAILED,
        admission.QUEUE_TIMEOUT,
        False,
    )
    assert queue.length(WORKFLOW) == 0


def test_a_record_written_without_a_slot_joins_the_queue_once(store: ExecutionStore, queue: QueueIndex):
    store.create(record("a", idempotency_key_hash=None), None, now=NOW.timestamp())
    joining = waiting("a")
    assert store.enqueue(joining)
    assert not store.enqueue(joining)
    assert queue.orders(WORKFLOW) == [joining.queue_order]


def test_get_many_reads_the_records_there_are(store: ExecutionStore):
    store.create(record("a", idempotency_key_hash=None), None, now=NOW.timestamp())
    ids = ["a", *(f"missing-{n}" for n in range(150))]  # over one BatchGetItem's hundred
    assert list(store.get_many(ids, NOW.timestamp())) == ["a"]


def _workflow():  # type: ignore[no-untyped-def]
    from flowport import services

    return services.registry()[WORKFLOW]


def test_a_retry_renews_the_slot_its_execution_still_holds(slots: SlotStore):
    slots.take(WORKFLOW, holder("a"), limit=1)
    assert slots.take(WORKFLOW, holder("a", attempt=1), limit=1) is Hold.REFUSED
    assert slots.renew(WORKFLOW, holder("a", attempt=1), from_attempt=0)
    assert not slots.renew(WORKFLOW, holder("a", attempt=1), from_attempt=0)  # attempt 0 holds none now
    assert not slots.release(WORKFLOW, "a", attempt=0)  # the late end of the first attempt frees nothing
    assert [(h.execution_id, h.attempt) for h in slots.read(WORKFLOW).holders] == [("a", 1)]
    # A retry Step Functions refused hands the slot back to the attempt it renewed it from.
    assert slots.renew(WORKFLOW, holder("a", attempt=0), from_attempt=1)
    assert [(h.execution_id, h.attempt) for h in slots.read(WORKFLOW).holders] == [("a", 0)]
    assert slots.read(WORKFLOW).running == 1
