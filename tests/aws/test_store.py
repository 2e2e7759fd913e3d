"""The DynamoDB store against moto, on the table template.yaml declares."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from flowport.aws.store import ExecutionStore
from flowport.core.models import (
    ExecutionError,
    ExecutionRecord,
    ExecutionSource,
    ExecutionStatus,
    IdempotencyKeyRecord,
)
from flowport.core.ports import CancelClaim, KeyTaken
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
