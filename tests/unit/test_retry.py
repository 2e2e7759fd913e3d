"""Retry and rerun: the rules (flowport.core.retry), the use cases on fakes, and the sync function's part
(a record runs again for a newer attempt; an earlier attempt's events are old news)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flowport.core import retry
from flowport.core.errors import (
    ExecutionNotFound,
    ExecutionNotRetryable,
    Forbidden,
    IdempotencyConflict,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    ServiceUnavailable,
)
from flowport.core.identity import Action
from flowport.core.models import ConflictStrategy, ExecutionRecord, ExecutionStatus, ProgressSnapshot
from flowport.core.sync import StatusChange, is_earlier_attempt, is_new_attempt
from flowport.usecases.retry import RerunCommand, RerunExecution, RetryCommand, RetryExecution
from flowport.usecases.start import StartCommand

from tests.fakes import entered, state_events
from tests.support import ADMIN, caller
from tests.unit.test_admission import AdmissionWorld
from tests.unit.test_usecases import REGISTRY, SETTINGS, World

DAY = timedelta(days=1)


class RetryWorld(World):
    def __init__(self) -> None:
        super().__init__()
        self.retrier = RetryExecution(
            REGISTRY, self.store, self.store, self.engine, self.admission, SETTINGS, self.clock
        )
        self.rerunner = RerunExecution(self.store, self.starter, self.clock)

    def failed(self) -> ExecutionRecord:
        """An execution whose Wait state's task failed, recorded FAILED by the sync function."""
        record = self.start()
        self.history(record).extend([*state_events(2, "CheckDelay", "Screen"), entered(6, "Wait")])
        self.history(record).append(
            {"id": 7, "previousEventId": 6, "type": "ExecutionFailed", "executionFailedEventDetails": {}}
        )
        assert self.sync.apply(self.change(record, "FAILED", error="States.TaskFailed"))
        return self.store.records[record.execution_id]

    def late_retrier(self, record: ExecutionRecord) -> RetryExecution:
        """A second retry's, which read the record as it was before the first retry wrote it."""
        stale = StaleReads(self.store, record)
        return RetryExecution(REGISTRY, stale, self.store, self.engine, self.admission, SETTINGS, self.clock)

    def retry(self, execution_id: str, key: str | None = None, strategy: str = "RETURN_EXISTING") -> Any:
        command = RetryCommand(
            execution_id, ADMIN, idempotency_key=key, on_conflict=ConflictStrategy(strategy) if key else None
        )
        return self.retrier.retry(command)


@pytest.fixture
def world() -> RetryWorld:
    return RetryWorld()


# The rules


def record_of(status: ExecutionStatus, ended: timedelta | None, world: RetryWorld) -> ExecutionRecord:
    completed = None if ended is None else world.clock.now - ended
    return world.start().model_copy(update={"status": status, "completed_at": completed})


@pytest.mark.parametrize(
    ("status", "ended", "retryable"),
    [
        (ExecutionStatus.FAILED, DAY, True),
        (ExecutionStatus.TIMED_OUT, DAY, True),
        (ExecutionStatus.CANCELLED, DAY, True),
        (ExecutionStatus.FAILED, 14 * DAY - timedelta(seconds=1), True),
        (ExecutionStatus.FAILED, 14 * DAY, False),  # Step Functions' redrivable period is over
        (ExecutionStatus.COMPLETED, DAY, False),
        (ExecutionStatus.QUEUED, None, True),  # for Step Functions to refuse, if it has not ended
        (ExecutionStatus.RUNNING, None, True),
    ],
)
def test_which_executions_are_retried(status, ended, retryable, world: RetryWorld):
    assert (retry.refusal(record_of(status, ended, world), world.clock.now) is None) is retryable


def test_a_retry_asks_step_functions_for_the_next_attempt_by_a_token_of_its_own():
    token = retry.client_token("e-1", 1)
    assert token == retry.client_token("e-1", 1)
    assert len(token) <= 64
    assert token.isascii()
    assert len({token, retry.client_token("e-1", 2), retry.client_token("e-2", 1)}) == 3


def test_the_record_of_a_new_attempt_has_nothing_of_how_the_last_one_ended(world: RetryWorld):
    ended = world.failed().model_copy(
        update={
            "output": {"x": 1},
            "output_in_step_functions": True,
            "cancel_requested_at": world.clock.now,
            "progress": ProgressSnapshot(progress=40, completed_nodes=2, total_nodes=5, retry_count=0),
        }
    )
    again = retry.restarted(ended, 1, expires_at=123)
    assert (again.status, again.redrive_count, again.expires_at) == (ExecutionStatus.RUNNING, 1, 123)
    assert (again.completed_at, again.error, again.output, again.progress, again.cancel_requested_at) == (
        None,
        None,
        None,
        None,
        None,
    )
    assert not again.output_in_step_functions
    assert (again.started_at, again.input, again.created_at) == (
        ended.started_at,
        ended.input,
        ended.created_at,
    )


def test_a_retrys_key_is_the_callers_own_for_one_execution():
    hashes = {
        retry.key_hash("k", "p_a", "e-1"),
        retry.key_hash("k", "p_b", "e-1"),
        retry.key_hash("k", "p_a", "e-2"),
        retry.key_hash("j", "p_a", "e-1"),
    }
    assert len(hashes) == 4


# The sync function's rules


def change(attempt: int | None, status: str = "RUNNING") -> StatusChange:
    detail = {"executionArn": "a", "stateMachineArn": "m", "name": "n", "status": status}
    return StatusChange.model_validate(
        {**detail, **({"redriveCount": attempt} if attempt is not None else {})}
    )


def test_an_event_without_a_redrive_count_is_of_a_first_run(world: RetryWorld):
    first = world.start()
    assert change(None).attempt == 0
    assert not is_new_attempt(first, change(None))
    assert not is_earlier_attempt(first, change(None))
    second = first.model_copy(update={"redrive_count": 2})
    assert is_earlier_attempt(second, change(1))
    assert is_new_attempt(second, change(3))


# Retry


def test_a_retry_redrives_once_and_records_the_new_attempt(world: RetryWorld):
    failed = world.failed()
    world.clock.advance(3600)
    started = world.retry(failed.execution_id)
    assert (started.execution.status, started.replayed) == (ExecutionStatus.RUNNING, False)
    record = world.store.records[failed.execution_id]
    assert (record.status, record.redrive_count, record.completed_at, record.error) == (
        ExecutionStatus.RUNNING,
        1,
        None,
        None,
    )
    # A new start's expiry, from the retry.
    assert record.expires_at > failed.expires_at
    assert world.engine.redrive_tokens[failed.execution_arn] == [retry.client_token(failed.execution_id, 1)]


def test_a_retried_execution_reads_as_running_not_as_its_last_attempts_final_view(world: RetryWorld):
    failed = world.failed()
    assert world.store.views[failed.execution_id].final  # the sync function kept the failed attempt's view
    world.retry(failed.execution_id)
    world.history(failed).append(entered(9, "Wait"))
    document = world.reader.status(failed.execution_id, ADMIN)
    assert (document.status, document.current_node, document.redrive_count) == (
        ExecutionStatus.RUNNING,
        "Wait",
        1,
    )
    assert document.error is None
    view = world.store.views[failed.execution_id]
    assert (view.final, view.redrive_count) == (False, 1)


def test_the_redriven_attempts_end_is_recorded_and_the_first_attempts_late_events_are_not(world: RetryWorld):
    failed = world.failed()
    world.retry(failed.execution_id)
    # Step Functions' RUNNING of the new attempt: the record says so already.
    assert not world.sync.apply(world.change(failed, "RUNNING", redriveCount=1))
    # The first attempt's FAILED, delivered again late: old news.
    assert not world.sync.apply(world.change(failed, "FAILED", redriveCount=0))
    assert not world.sync.apply(world.change(failed, "FAILED"))
    assert world.store.records[failed.execution_id].status is ExecutionStatus.RUNNING
    world.history(failed).extend(
        [entered(9, "Wait"), {"id": 10, "previousEventId": 9, "type": "ExecutionSucceeded"}]
    )
    assert world.sync.apply(world.change(failed, "SUCCEEDED", redriveCount=1, output='{"queue": "q"}'))
    done = world.store.records[failed.execution_id]
    assert (done.status, done.output, done.redrive_count) == (ExecutionStatus.COMPLETED, {"queue": "q"}, 1)
    # Finished for this attempt: no late event of it changes it.
    assert not world.sync.apply(world.change(failed, "FAILED", redriveCount=1))


def test_a_redrive_the_record_never_heard_of_is_recorded_from_step_functions_events(world: RetryWorld):
    """The retry died after RedriveExecution, or someone redrove it in the console."""
    failed = world.failed()
    assert world.sync.apply(world.change(failed, "RUNNING", redriveCount=1))
    record = world.store.records[failed.execution_id]
    assert (record.status, record.redrive_count, record.error) == (ExecutionStatus.RUNNING, 1, None)
    # Its RUNNING lost, a second redrive's end alone still finishes it, as that attempt.
    assert world.sync.apply(world.change(failed, "TIMED_OUT", redriveCount=2))
    record = world.store.records[failed.execution_id]
    assert (record.status, record.redrive_count) == (ExecutionStatus.TIMED_OUT, 2)


def test_a_redriven_cancelled_execution_is_not_stopped_by_the_sync_function(world: RetryWorld):
    record = world.start()
    world.history(record).append(entered(2, "Wait"))
    world.canceller.cancel(record.execution_id, ADMIN)
    assert world.sync.apply(world.change(record, "ABORTED"))
    world.engine.calls.clear()
    assert world.sync.apply(world.change(record, "RUNNING", redriveCount=1))
    assert "stop" not in world.engine.calls
    assert world.store.records[record.execution_id].cancel_requested_at is None  # cancellable again


def test_two_retries_of_one_attempt_redrive_once_and_answer_alike(world: RetryWorld):
    failed = world.failed()
    first = world.retry(failed.execution_id, key="a")
    # A second retry that read the record before the first wrote it: same attempt, same token.
    late = world.late_retrier(failed)
    second = late.retry(RetryCommand(failed.execution_id, ADMIN, "b", ConflictStrategy.RETURN_EXISTING))
    assert first.execution.execution_id == second.execution.execution_id
    assert second.execution.status is ExecutionStatus.RUNNING
    assert world.engine.redrive_tokens[failed.execution_arn] == [retry.client_token(failed.execution_id, 1)]
    assert world.store.records[failed.execution_id].redrive_count == 1


def test_a_retry_whose_earlier_attempt_frees_its_slot_mid_way_takes_the_freed_slot(world: RetryWorld):
    """The cancel's end reaches the sync function between the retry's take (refused: attempt 0 still holds
    the slot) and its renew (refused: the slot is free now). Queued, nothing would ever dispatch it."""
    record = world.start()
    world.history(record).append(entered(2, "Wait"))
    world.canceller.cancel(record.execution_id, ADMIN)
    renew = world.slots.renew

    def renew_after_the_end(workflow: str, holder: Any, from_attempt: int) -> bool:
        assert world.sync.apply(world.change(record, "ABORTED"))
        return renew(workflow, holder, from_attempt)

    world.slots.renew = renew_after_the_end  # type: ignore[method-assign]
    assert world.retry(record.execution_id).execution.status is ExecutionStatus.RUNNING
    assert world.slots.holders["ticket-triage"][record.execution_id].attempt == 1
    assert world.engine.redrive_tokens[record.execution_arn] == [retry.client_token(record.execution_id, 1)]


def slot_lost(world: AdmissionWorld) -> tuple[ExecutionRecord, RetryExecution]:
    """A RUNNING record whose slot went to another execution (the end freed it, then the sync function's
    write of the record failed; or another attempt's retry renewed the slot and gave it back) in a full
    workflow: the attempt may still run, and only Step Functions knows whether a retry is to wait."""
    record = world.push("a")
    world.push("b")
    world.slots.release("partner-sync", record.execution_id, 0)
    world.push("c")
    retrier = RetryExecution(
        REGISTRY, world.store, world.store, world.engine, world.admission, SETTINGS, world.clock
    )
    return record, retrier


def test_a_retry_finding_no_slot_for_a_record_unaware_of_its_end_waits_if_step_functions_ended_it():
    world = AdmissionWorld()
    record, retrier = slot_lost(world)
    world.history(record).append({"id": 2, "type": "ExecutionFailed"})
    assert retrier.retry(RetryCommand(record.execution_id, ADMIN)).execution.status is ExecutionStatus.QUEUED
    assert world.store.records[record.execution_id].waiting
    assert "redrive" not in world.engine.calls  # the dispatch that gives it a slot redrives it


def test_a_retry_finding_no_slot_for_a_record_unaware_of_its_end_is_refused_while_it_runs():
    world = AdmissionWorld()
    record, retrier = slot_lost(world)
    with pytest.raises(ExecutionNotRetryable, match=r"\(it is RUNNING\)"):
        retrier.retry(RetryCommand(record.execution_id, ADMIN))
    assert not world.store.records[record.execution_id].waiting
    assert "redrive" not in world.engine.calls


class StaleReads:
    """The store, but its first read of the record returns it as it was (a racer's read)."""

    def __init__(self, store: Any, record: ExecutionRecord) -> None:
        self._store, self._stale = store, [record]

    def get(self, execution_id: str, now: float) -> ExecutionRecord | None:
        return self._stale.pop() if self._stale else self._store.get(execution_id, now)


@pytest.mark.parametrize("status", ["COMPLETED", "QUEUED"])
def test_a_retry_of_what_has_not_failed_asks_step_functions_nothing(world: RetryWorld, status: str):
    record = world.start()
    waits = {"queue_order": "99#2026#x#0"} if status == "QUEUED" else {}  # a QUEUED one waiting for a slot
    world.store.records[record.execution_id] = record.model_copy(
        update={"status": ExecutionStatus(status), **waits}
    )
    with pytest.raises(ExecutionNotRetryable) as refused:
        world.retry(record.execution_id)
    assert refused.value.extensions["execution_status"] is ExecutionStatus(status)
    assert "redrive" not in world.engine.calls


def test_step_functions_refusal_is_the_409_and_the_key_is_let_go(world: RetryWorld):
    record = world.start()  # RUNNING in Step Functions: its history has not ended
    world.store.records[record.execution_id] = record.model_copy(update={"status": ExecutionStatus.RUNNING})
    with pytest.raises(ExecutionNotRetryable, match="will not redrive"):
        world.retry(record.execution_id, key="k")
    assert world.store.calls[-1] == "release_key"
    assert world.store.records[record.execution_id].redrive_count == 0
    # The slot the retry renewed for attempt 1 is the still running attempt 0's again.
    assert world.slots.holders["ticket-triage"][record.execution_id].attempt == 0


def test_a_retry_that_fails_leaves_the_slot_another_retry_of_the_same_attempt_holds(world: RetryWorld):
    failed = world.failed()
    world.retry(failed.execution_id)  # attempt 1 holds its slot, and runs
    late = world.late_retrier(failed)
    world.engine.refuse = ServiceUnavailable("busy")
    with pytest.raises(ServiceUnavailable):
        late.retry(RetryCommand(failed.execution_id, ADMIN))  # the same attempt: its slot is held already
    assert world.slots.holders["ticket-triage"][failed.execution_id].attempt == 1


def test_step_functions_unavailable_is_a_503_that_a_retry_with_the_key_repeats(world: RetryWorld):
    failed = world.failed()
    world.engine.refuse = ServiceUnavailable("busy")
    with pytest.raises(ServiceUnavailable):
        world.retry(failed.execution_id, key="k")
    world.engine.refuse = None
    assert world.retry(failed.execution_id, key="k").replayed is False
    assert world.store.records[failed.execution_id].redrive_count == 1


@pytest.mark.parametrize(
    ("strategy", "outcome"),
    [("RETURN_EXISTING", "replay"), ("FAIL", IdempotencyConflict), ("FAIL_ON_RUNNING", IdempotencyConflict)],
)
def test_a_repeated_retry_key_never_redrives_twice(world: RetryWorld, strategy: str, outcome: Any):
    failed = world.failed()
    world.retry(failed.execution_id, key="k", strategy=strategy)
    if outcome == "replay":
        again = world.retry(failed.execution_id, key="k", strategy=strategy)
        assert (again.replayed, again.execution.status) == (True, ExecutionStatus.RUNNING)
    else:
        with pytest.raises(outcome):
            world.retry(failed.execution_id, key="k", strategy=strategy)
    assert len(world.engine.redrive_tokens[failed.execution_arn]) == 1


def test_fail_on_running_retries_again_once_the_attempt_has_ended(world: RetryWorld):
    failed = world.failed()
    world.retry(failed.execution_id, key="k", strategy="FAIL_ON_RUNNING")
    world.history(failed).append({"id": 9, "previousEventId": 8, "type": "ExecutionFailed"})
    assert world.sync.apply(world.change(failed, "FAILED", redriveCount=1))
    again = world.retry(failed.execution_id, key="k", strategy="FAIL_ON_RUNNING")
    assert (again.replayed, world.store.records[failed.execution_id].redrive_count) == (False, 2)


def test_a_key_whose_request_died_is_in_flight_until_its_lease_ends_then_taken_over(world: RetryWorld):
    failed = world.failed()
    world.engine.refuse = ServiceUnavailable("the process dies here")
    world.retrier._retries = NoRelease(world.store)  # type: ignore[assignment]
    with pytest.raises(ServiceUnavailable):
        world.retry(failed.execution_id, key="k")
    world.engine.refuse = None
    world.retrier._retries = world.store
    with pytest.raises(IdempotencyKeyInFlight):
        world.retry(failed.execution_id, key="k")
    world.clock.advance(SETTINGS.start_lease_seconds)
    assert world.retry(failed.execution_id, key="k").replayed is False
    assert world.store.records[failed.execution_id].redrive_count == 1


class NoRelease:
    """The store, as a request that dies before it lets its key go sees it."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def release_key(self, key: Any) -> None:
        """Never reached."""


def test_a_retry_needs_the_retry_action_and_sees_only_what_the_caller_may(world: RetryWorld):
    failed = world.failed()
    without = caller("p_noretry000000000000", actions=(Action.START, Action.READ))
    with pytest.raises(Forbidden):
        world.retrier.retry(RetryCommand(failed.execution_id, without))
    elsewhere = caller("p_elsewhere0000000000", workflows=("document-summary",))
    with pytest.raises(ExecutionNotFound):
        world.retrier.retry(RetryCommand(failed.execution_id, elsewhere))
    assert world.engine.calls.count("redrive") == 0


# Rerun


def test_a_rerun_is_a_start_of_the_same_request_that_names_the_first(world: RetryWorld):
    first = world.start()
    rerun = world.rerunner.rerun(RerunCommand(first.execution_id, ADMIN))
    second = world.store.records[rerun.execution.execution_id]
    assert second.execution_id != first.execution_id
    assert (second.rerun_of, second.input, second.version, second.workflow) == (
        first.execution_id,
        first.input,
        first.version,
        first.workflow,
    )
    other = world.rerunner.rerun(RerunCommand(first.execution_id, ADMIN, version=1))
    assert world.store.records[other.execution.execution_id].version == 1
    latest = world.rerunner.rerun(RerunCommand(first.execution_id, ADMIN, version="latest"))
    assert (
        world.store.records[latest.execution.execution_id].version
        == REGISTRY.get("ticket-triage").latest_version
    )  # type: ignore[union-attr]


def test_a_rerun_key_cannot_replay_a_start(world: RetryWorld):
    first = world.start()
    keyed = StartCommand(
        workflow=first.workflow,
        version=first.version,
        input=first.input,
        source=first.source,
        caller=ADMIN,
        idempotency_key="k",
        on_conflict=ConflictStrategy.RETURN_EXISTING,
    )
    world.starter.start(keyed)
    with pytest.raises(IdempotencyKeyReused):
        world.rerunner.rerun(
            RerunCommand(first.execution_id, ADMIN, None, "k", ConflictStrategy.RETURN_EXISTING)
        )
    rerun = world.rerunner.rerun(
        RerunCommand(first.execution_id, ADMIN, None, "r", ConflictStrategy.RETURN_EXISTING)
    )
    again = world.rerunner.rerun(
        RerunCommand(first.execution_id, ADMIN, None, "r", ConflictStrategy.RETURN_EXISTING)
    )
    assert (again.replayed, again.execution.execution_id) == (True, rerun.execution.execution_id)


def test_a_rerun_needs_the_start_scope_too(world: RetryWorld):
    first = world.start()
    retrier = caller("p_retrier000000000000", actions=(Action.RETRY, Action.READ))
    with pytest.raises(Forbidden, match="start"):
        world.rerunner.rerun(RerunCommand(first.execution_id, retrier))
