"""The idempotency rules, without AWS."""

from datetime import UTC, datetime

import pytest
from flowport.core import idempotency
from flowport.core.errors import IdempotencyKeyReused
from flowport.core.idempotency import ConflictAction, PendingStart
from flowport.core.models import ConflictStrategy, ExecutionStatus, IdempotencyKeyRecord

ACTIVE = [ExecutionStatus.QUEUED, ExecutionStatus.RUNNING]
FINISHED = [s for s in ExecutionStatus if s.is_terminal]


def key_record(fingerprint: str = "f1") -> IdempotencyKeyRecord:
    return IdempotencyKeyRecord(
        key_hash="h",
        generation=1,
        fingerprint=fingerprint,
        execution_id="e1",
        workflow="w",
        version=1,
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:s-w-v1",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        status=ExecutionStatus.QUEUED,
        lease_until=0,
        expires_at=0,
    )


def test_fingerprint_ignores_key_order_but_not_values():
    assert idempotency.fingerprint("w", 1, {"a": 1, "b": 2}) == idempotency.fingerprint(
        "w", 1, {"b": 2, "a": 1}
    )
    assert idempotency.fingerprint("w", 1, {"a": 1}) != idempotency.fingerprint("w", 1, {"a": 2})
    assert idempotency.fingerprint("w", 1, {"a": 1}) != idempotency.fingerprint("w", 2, {"a": 1})
    assert idempotency.fingerprint("w", 1, {"a": 1}) != idempotency.fingerprint("x", 1, {"a": 1})


def test_a_named_callback_is_part_of_the_request_and_none_changes_nothing():
    plain = idempotency.fingerprint("w", 1, {"a": 1})
    assert idempotency.fingerprint("w", 1, {"a": 1}, callback=None) == plain
    hooks = idempotency.fingerprint("w", 1, {"a": 1}, callback={"url": "https://h.example/in", "events": []})
    other = idempotency.fingerprint("w", 1, {"a": 1}, callback={"url": "https://o.example/in", "events": []})
    assert len({plain, hooks, other}) == 3


def test_key_hash_is_fixed_length_and_scoped():
    assert len(idempotency.hash_key("k" * 255)) == 64
    assert idempotency.hash_key("k", scope="tenant-a") != idempotency.hash_key("k", scope="tenant-b")


def test_a_key_reused_for_another_request_is_refused():
    with pytest.raises(IdempotencyKeyReused) as raised:
        idempotency.ensure_same_request(key_record("f1"), "f2")
    assert raised.value.extensions["execution_id"] == "e1"
    idempotency.ensure_same_request(key_record("f1"), "f1")


@pytest.mark.parametrize("status", list(ExecutionStatus))
def test_return_existing_always_replays(status):
    assert idempotency.on_conflict(ConflictStrategy.RETURN_EXISTING, status) is ConflictAction.REPLAY


@pytest.mark.parametrize("status", list(ExecutionStatus))
def test_fail_always_rejects(status):
    assert idempotency.on_conflict(ConflictStrategy.FAIL, status) is ConflictAction.REJECT


@pytest.mark.parametrize("status", ACTIVE)
def test_fail_on_running_rejects_while_active(status):
    assert idempotency.on_conflict(ConflictStrategy.FAIL_ON_RUNNING, status) is ConflictAction.REJECT


@pytest.mark.parametrize("status", FINISHED)
def test_fail_on_running_starts_again_once_finished(status):
    assert (
        idempotency.on_conflict(ConflictStrategy.FAIL_ON_RUNNING, status)
        is ConflictAction.START_NEW_GENERATION
    )


@pytest.mark.parametrize("strategy", list(ConflictStrategy))
def test_an_unconfirmed_start_is_always_observed(strategy):
    assert idempotency.needs_observation(strategy, ExecutionStatus.QUEUED)


def test_a_confirmed_status_is_trusted_unless_fail_on_running_needs_the_end():
    assert not idempotency.needs_observation(ConflictStrategy.RETURN_EXISTING, ExecutionStatus.RUNNING)
    assert not idempotency.needs_observation(ConflictStrategy.FAIL, ExecutionStatus.RUNNING)
    assert idempotency.needs_observation(ConflictStrategy.FAIL_ON_RUNNING, ExecutionStatus.RUNNING)
    assert not idempotency.needs_observation(ConflictStrategy.FAIL_ON_RUNNING, ExecutionStatus.COMPLETED)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (105, PendingStart.IN_FLIGHT),
        (130, PendingStart.TAKE_OVER),
        (399, PendingStart.TAKE_OVER),
        (400, PendingStart.ABANDONED),
    ],
)
def test_pending_start_moves_from_in_flight_to_take_over_to_abandoned(now, expected):
    assert (
        idempotency.pending_start(lease_until=130, created_at=100, now=now, deadline_seconds=300) is expected
    )
