"""The DynamoDB store against moto, on the table template.yaml declares."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from flowport.aws.retry_store import RetryStore
from flowport.aws.store import ExecutionStore
from flowport.core import retry
from flowport.core.models import (
    ExecutionError,
    ExecutionRecord,
    ExecutionSource,
    ExecutionStatus,
    IdempotencyKeyRecord,
    ProgressSnapshot,
)
from flowport.core.ports import CancelClaim, KeyTaken, RetryKeyTaken
from flowport.core.retry import RetryKeyRecord
from flowport.local.cloud import LocalCloud

from tests.support import ADMIN, ANYONE

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:flowport-local-ticket-triage-v2"


@pytest.fixture
def store(cloud: LocalCloud) -> ExecutionStore:
    (table,) = cloud.stack.tables.values()
    return ExecutionStore(boto3.client("dynamodb"), table.name)


def record(execution_id: str = "e1", **changes) -> ExecutionRecord:
    base = ExecutionRecord(
        execution_id=execution_id,
        workflow="ticket-triage",
        version=2,
        state_machine_arn=ARN,
        status=ExecutionStatus.QUEUED,
        input={"float": 1.5, "nested": [{"": None}], "text": "ü"},
        source=ExecutionSource.HTTP_POST,
        created_at=NOW,
        started_by=ADMIN.principal_id,
        idempotency_key_hash="h1",
        expires_at=int(NOW.timestamp()) + 3600,
    )
    return base.model_copy(update=changes)


def key(execution_id: str = "e1", generation: int = 1) -> IdempotencyKeyRecord:
    return IdempotencyKeyRecord(
        key_hash="h1",
        generation=generation,
        fingerprint="f",
        execution_id=execution_id,
        workflow="ticket-triage",
        version=2,
        state_machine_arn=ARN,
        created_at=NOW,
        status=ExecutionStatus.QUEUED,
        lease_until=NOW.timestamp() + 30,
        expires_at=int(NOW.timestamp()) + 3600,
    )


def test_a_record_round_trips_with_any_json_input(store: ExecutionStore):
    store.create(record(), None, now=NOW.timestamp())
    assert store.get("e1", NOW.timestamp()) == record()


def test_an_expired_record_is_absent(store: ExecutionStore):
    store.create(record(), None, now=NOW.timestamp())
    assert store.get("e1", NOW.timestamp() + 3601) is None


def test_a_taken_key_returns_its_owner_in_the_same_call(store: ExecutionStore):
    store.create(record("e1"), key("e1"), now=NOW.timestamp())
    with pytest.raises(KeyTaken) as taken:
        store.create(record("e2"), key("e2"), now=NOW.timestamp())
    assert taken.value.existing == key("e1")
    assert store.get("e2", NOW.timestamp()) is None  # the transaction wrote nothing


def test_an_expired_key_is_free_again(store: ExecutionStore):
    store.create(record("e1"), key("e1"), now=NOW.timestamp())
    store.create(record("e2"), key("e2"), now=NOW.timestamp() + 3601)
    assert store.get("e2", NOW.timestamp()) is not None


def test_a_new_generation_replaces_only_the_generation_it_saw(store: ExecutionStore):
    store.create(record("e1"), key("e1"), now=NOW.timestamp())
    store.create(record("e2"), key("e2", generation=2), now=NOW.timestamp(), replaces_generation=1)
    with pytest.raises(KeyTaken) as taken:
        store.create(record("e3"), key("e3", generation=2), now=NOW.timestamp(), replaces_generation=1)
    assert taken.value.existing is not None
    assert taken.value.existing.execution_id == "e2"


def test_only_one_request_takes_over_a_start(store: ExecutionStore):
    store.create(record(), key(), now=NOW.timestamp())
    assert store.take_over_start(key(), lease_until=NOW.timestamp() + 60)
    assert not store.take_over_start(key(), lease_until=NOW.timestamp() + 60)


def test_only_one_caller_claims_a_cancellation_and_each_learns_the_record(store: ExecutionStore):
    store.create(record(status=ExecutionStatus.RUNNING), None, now=NOW.timestamp())
    won = store.claim_cancel("e1", NOW, ANYONE)
    assert won.won
    assert won.record is not None
    assert (won.record.status, won.record.cancel_requested_at) == (ExecutionStatus.RUNNING, NOW)
    lost = store.claim_cancel("e1", NOW, ANYONE)
    assert not lost.won
    assert lost.record is not None
    assert lost.record.execution_id == "e1"
    assert store.withdraw_cancel("e1")
    assert store.claim_cancel("e1", NOW, ANYONE).won
    assert store.claim_cancel("missing", NOW, ANYONE) == CancelClaim(False, None)


def test_a_finished_or_expired_execution_cannot_be_claimed(store: ExecutionStore):
    store.create(record(status=ExecutionStatus.RUNNING), None, now=NOW.timestamp())
    store.finish(record(status=ExecutionStatus.COMPLETED, completed_at=NOW))
    finished = store.claim_cancel("e1", NOW, ANYONE)
    assert not finished.won
    assert finished.record is not None
    assert finished.record.status is ExecutionStatus.COMPLETED
    store.create(
        record("e2", status=ExecutionStatus.RUNNING, expires_at=int(NOW.timestamp()) - 1), None, now=0
    )
    assert store.claim_cancel("e2", NOW, ANYONE) == CancelClaim(False, None)


def test_only_a_cancelled_record_is_finished_again_after_its_cancel(store: ExecutionStore):
    store.create(record(status=ExecutionStatus.RUNNING), key(), now=NOW.timestamp())
    completed = record(status=ExecutionStatus.COMPLETED, completed_at=NOW, output={"done": True})
    assert not store.finish(completed, after_cancel=True)  # it is not CANCELLED
    assert store.finish(record(status=ExecutionStatus.CANCELLED, completed_at=NOW))
    assert store.finish(completed, after_cancel=True)
    stored = store.get("e1", NOW.timestamp())
    assert stored is not None
    assert (stored.status, stored.output) == (ExecutionStatus.COMPLETED, {"done": True})
    assert not store.finish(completed, after_cancel=True)  # and only once


def test_a_finished_record_is_never_finished_again_and_mirrors_onto_its_key(store: ExecutionStore):
    store.create(record(), key(), now=NOW.timestamp())
    failed = record(
        status=ExecutionStatus.FAILED, error=ExecutionError(code="E", message="m"), completed_at=NOW
    )
    assert store.finish(failed)
    assert not store.finish(record(status=ExecutionStatus.COMPLETED, completed_at=NOW))
    stored = store.get("e1", NOW.timestamp())
    assert stored is not None
    assert (stored.status, stored.error) == (ExecutionStatus.FAILED, ExecutionError(code="E", message="m"))
    with pytest.raises(KeyTaken) as taken:
        store.create(record("e2"), key("e2"), now=NOW.timestamp())
    assert taken.value.existing is not None
    assert taken.value.existing.status is ExecutionStatus.FAILED


# Attempts (flowport.core.retry): the record of a retried execution, and the keys of retries


@pytest.fixture
def retries(cloud: LocalCloud) -> RetryStore:
    (table,) = cloud.stack.tables.values()
    return RetryStore(boto3.client("dynamodb"), table.name)


def failed_record() -> ExecutionRecord:
    return record(
        status=ExecutionStatus.FAILED,
        error=ExecutionError(code="E", message="m"),
        completed_at=NOW,
        progress=ProgressSnapshot(progress=40, completed_nodes=2, total_nodes=5, retry_count=0),
    )


def test_a_claim_moves_a_finished_record_of_the_attempt_it_saw_to_the_next_once(
    store: ExecutionStore, retries: RetryStore
):
    store.create(record(), key(), now=NOW.timestamp())
    assert store.finish(failed_record())
    again = retry.restarted(failed_record(), 1, expires_at=int(NOW.timestamp()) + 7200)
    assert retries.restart(again, from_attempt=0)
    assert not retries.restart(again, from_attempt=0)  # a second claim of that attempt
    stored = store.get("e1", NOW.timestamp())
    assert stored is not None
    assert (stored.status, stored.redrive_count, stored.expires_at) == (
        ExecutionStatus.RUNNING,
        1,
        again.expires_at,
    )
    assert (stored.completed_at, stored.error, stored.progress) == (None, None, None)
    # Its start's key says so too (a FAIL_ON_RUNNING start with it is refused while it runs).
    with pytest.raises(KeyTaken) as taken:
        store.create(record("e2"), key("e2"), now=NOW.timestamp())
    assert taken.value.existing is not None
    assert taken.value.existing.status is ExecutionStatus.RUNNING


def test_an_earlier_attempts_late_end_never_finishes_a_retried_record(
    store: ExecutionStore, retries: RetryStore
):
    store.create(record(status=ExecutionStatus.RUNNING), None, now=NOW.timestamp())
    assert retries.restart(retry.restarted(record(), 1, expires_at=int(NOW.timestamp()) + 60), None)
    assert not store.finish(failed_record())  # attempt 0's, late
    assert store.finish(failed_record().model_copy(update={"redrive_count": 1}))
    assert not store.finish(record(status=ExecutionStatus.COMPLETED, completed_at=NOW, redrive_count=1))


def test_the_sync_functions_restart_takes_only_a_newer_attempt(store: ExecutionStore, retries: RetryStore):
    store.create(record(status=ExecutionStatus.COMPLETED), None, now=NOW.timestamp())
    second = retry.restarted(record(), 2, expires_at=int(NOW.timestamp()) + 60)
    assert retries.restart(second, from_attempt=None)
    assert not retries.restart(second, from_attempt=None)
    assert not retries.restart(retry.restarted(record(), 1, expires_at=1), from_attempt=None)
    assert not retries.restart(retry.restarted(record(), 3, expires_at=1), from_attempt=0)  # claimed at 2


def test_a_claim_is_refused_over_a_completed_record(store: ExecutionStore, retries: RetryStore):
    for number, status in enumerate((ExecutionStatus.COMPLETED,)):
        store.create(record(f"q{number}", status=status), None, now=NOW.timestamp())
        again = retry.restarted(record(f"q{number}"), 1, expires_at=int(NOW.timestamp()) + 60)
        assert not retries.restart(again, from_attempt=0)


def retry_key(generation: int = 1, attempt: int = 1, lease: float = 30) -> RetryKeyRecord:
    return RetryKeyRecord(
        key_hash="r1",
        execution_id="e1",
        attempt=attempt,
        generation=generation,
        created_at=NOW,
        lease_until=NOW.timestamp() + lease,
        expires_at=int(NOW.timestamp()) + 3600,
    )


def test_a_retry_key_is_written_once_taken_over_once_and_let_go(retries: RetryStore):
    retries.create_key(retry_key(), NOW.timestamp())
    with pytest.raises(RetryKeyTaken) as taken:
        retries.create_key(retry_key(attempt=2), NOW.timestamp())
    assert taken.value.existing == retry_key()
    assert retries.take_over_key(retry_key(), lease_until=NOW.timestamp() + 60)
    assert not retries.take_over_key(retry_key(), lease_until=NOW.timestamp() + 90)
    with pytest.raises(RetryKeyTaken):
        retries.create_key(retry_key(generation=3), NOW.timestamp(), replaces_generation=2)
    retries.create_key(retry_key(generation=2, attempt=2), NOW.timestamp(), replaces_generation=1)
    retries.release_key(retry_key(generation=2))
    retries.create_key(retry_key(), NOW.timestamp())  # let go: free again
