"""Use cases: retry a failed execution from where it failed (Step Functions' RedriveExecution), and rerun an
execution as a new one (rules: flowport.core.retry).

Both need the `retry` action and answer an execution the caller may not see as unknown (404), as the other
routes that name one do. Both take an idempotency key as a start does: a rerun *is* a start (StartExecution,
whose key then also fingerprints the execution it reruns), a retry keeps a key of its own per execution.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from flowport.core import idempotency, retry, status
from flowport.core.admission import Hold
from flowport.core.clock import Clock, utcnow
from flowport.core.errors import (
    ExecutionNotRetryable,
    FlowportError,
    IdempotencyConflict,
    IdempotencyKeyInFlight,
    execution_not_found,
)
from flowport.core.idempotency import ConflictAction
from flowport.core.identity import Action, Caller
from flowport.core.models import (
    ConflictStrategy,
    ExecutionRecord,
    ExecutionSource,
    ExecutionStatus,
    ExecutionSummary,
)
from flowport.core.ports import ExecutionStore, RetryKeyTaken, RetryRecords, WorkflowEngine
from flowport.core.registry import Registry
from flowport.core.retry import RetryKeyRecord
from flowport.settings import Settings
from flowport.usecases.admission import Admission
from flowport.usecases.start import MAX_KEY_ATTEMPTS, StartCommand, Started, StartExecution

LATEST: Final = "latest"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryCommand:
    execution_id: str
    caller: Caller
    idempotency_key: str | None = None
    on_conflict: ConflictStrategy | None = None


def _visible(store: ExecutionStore, execution_id: str, caller: Caller, now: float) -> ExecutionRecord:
    """The record, if the caller may retry (403 otherwise) and see it (404, as for an unknown id)."""
    caller.require(Action.RETRY)
    record = store.get(execution_id, now)
    if record is None or not caller.may_see(Action.RETRY, record.workflow, record.started_by):
        raise execution_not_found(execution_id)
    return record


class RetryExecution:
    """Redrive a FAILED, TIMED_OUT or CANCELLED execution: the same execution runs again from where it
    failed. Three AWS calls: the record's read, RedriveExecution, one conditional write of the record;
    with an idempotency key one more, the key's write, before (and its start key's status after, if it was
    started with one, as every status change mirrors it). One whose slot is not to be had waits in the
    queue instead of the redrive; if its record has not heard of its end, DescribeExecution first."""

    def __init__(
        self,
        registry: Registry,
        store: ExecutionStore,
        retries: RetryRecords,
        engine: WorkflowEngine,
        admission_control: Admission,
        settings: Settings,
        clock: Clock = utcnow,
    ) -> None:
        self._registry = registry
        self._store = store
        self._retries = retries
        self._engine = engine
        self._admission = admission_control
        self._settings = settings
        self._clock = clock

    def retry(self, command: RetryCommand) -> Started:
        record = _visible(self._store, command.execution_id, command.caller, self._clock().timestamp())
        if command.idempotency_key is None:
            return Started(self._retry(record), replayed=False)
        return self._retry_keyed(record, command)

    def _retry(self, record: ExecutionRecord) -> ExecutionSummary:
        now = self._clock()
        why = retry.refusal(record, now)
        if why is not None:
            raise ExecutionNotRetryable(
                f"Execution {record.execution_id} cannot be retried: {why}",
                execution_id=record.execution_id,
                execution_status=record.status,
            )
        attempt = retry.next_attempt(record)
        restarted = retry.restarted(record, attempt, self._new_run_expiry(record, now))
        # A slot for the new attempt, as for any start; with none free it waits in the queue, and the
        # dispatch that gives it one redrives it (flowport.usecases.admission.Admission.launch).
        hold = self._admission.admit(restarted)
        if hold is Hold.REFUSED:
            if not record.status.is_terminal:
                self._refuse_unless_ended(record)
            queued = restarted.model_copy(update={"status": ExecutionStatus.QUEUED})
            waiting = self._admission.waiting(queued, now)
            if self._retries.restart(waiting, from_attempt=record.redrive_count):
                if self._admission.recheck(waiting):
                    return status.summary_of(waiting.model_copy(update={"status": ExecutionStatus.RUNNING}))
                return status.summary_of(waiting)
            return self._as_now(record, now)
        # RedriveExecution first, the record's conditional write after. The other order would claim an
        # attempt Step Functions may then refuse or never hear of (a crash, a throttled call), leaving a
        # RUNNING record over a FAILED execution that nothing repairs; this way a refusal leaves nothing to
        # undo, and if this request dies after the redrive, the sync function records the attempt from Step
        # Functions' own RUNNING event (its redriveCount is above the record's). Two retries that saw the
        # same attempt send the same client token, so Step Functions redrives once, and one write wins.
        try:
            self._admission.launch(restarted)
        except Exception:
            self._admission.give_back(restarted, hold)
            raise
        if self._retries.restart(restarted, from_attempt=record.redrive_count):
            return status.summary_of(restarted)
        return self._as_now(record, now)

    def _refuse_unless_ended(self, record: ExecutionRecord) -> None:
        """A record that has not heard of its attempt's end, whose slot is not to be had: the attempt may
        still run (and hold it), so only Step Functions can tell whether a redrive is to wait in the queue
        (its RedriveExecution, which would tell, comes only when a slot is free)."""
        observed = self._engine.describe(record.execution_arn)
        if observed is None or observed.status not in retry.RETRYABLE:
            state = record.status if observed is None else observed.status
            raise ExecutionNotRetryable(
                f"Execution {record.execution_id} cannot be retried: Step Functions will not redrive it "
                + ("(it has not reached Step Functions)" if observed is None else f"(it is {state.value})"),
                execution_id=record.execution_id,
                execution_status=state,
            )

    def _as_now(self, record: ExecutionRecord, now: datetime) -> ExecutionSummary:
        # Another writer recorded the attempt first: a concurrent retry (whose redrive was this one) or the
        # sync function. The execution runs again, as asked: say how it is now.
        current = self._store.get(record.execution_id, now.timestamp())
        if current is None:
            raise execution_not_found(record.execution_id)
        return status.summary_of(current)

    def _new_run_expiry(self, record: ExecutionRecord, now: datetime) -> int:
        workflow = self._registry.get(record.workflow)
        return retry.new_run_expiry(record, workflow, now, self._settings.max_run_seconds)

    def _retry_keyed(self, record: ExecutionRecord, command: RetryCommand) -> Started:
        assert command.idempotency_key is not None
        assert command.on_conflict is not None
        scope = command.caller.idempotency_scope
        key_hash = retry.key_hash(command.idempotency_key, scope, record.execution_id)
        replaces_generation: int | None = None
        for _ in range(MAX_KEY_ATTEMPTS):
            now = self._clock()
            key = RetryKeyRecord(
                key_hash=key_hash,
                execution_id=record.execution_id,
                attempt=retry.next_attempt(record),
                generation=(replaces_generation or 0) + 1,
                created_at=now,
                lease_until=now.timestamp() + self._settings.start_lease_seconds,
                expires_at=self._new_run_expiry(record, now),
            )
            try:
                self._retries.create_key(key, now.timestamp(), replaces_generation=replaces_generation)
            except RetryKeyTaken as taken:
                if taken.existing is None:  # the generation it replaced is gone: write the key afresh
                    replaces_generation = None
                    continue
                existing = taken.existing
            else:
                return Started(self._retry_releasing(record, key), replayed=False)
            if not retry.attempt_recorded(existing, record):
                return Started(self._take_over(record, existing), replayed=False)
            action = idempotency.on_conflict(command.on_conflict, record.status)
            if action is ConflictAction.REPLAY:
                return Started(status.summary_of(record), replayed=True)
            if action is ConflictAction.REJECT:
                raise IdempotencyConflict(
                    f"Execution {record.execution_id} was retried with this idempotency key and is "
                    f"{record.status.value}",
                    execution_id=record.execution_id,
                )
            replaces_generation = existing.generation  # FAIL_ON_RUNNING, and it has finished again
        raise IdempotencyKeyInFlight("Requests with this idempotency key keep racing; retry shortly")

    def _take_over(self, record: ExecutionRecord, key: RetryKeyRecord) -> ExecutionSummary:
        """The key's request has not recorded its attempt: it is still retrying, or it gave up (its lease
        ended) and this request retries for it: the same attempt, the same client token."""
        now = self._clock().timestamp()
        if now < key.lease_until or not self._retries.take_over_key(
            key, lease_until=now + self._settings.start_lease_seconds
        ):
            raise IdempotencyKeyInFlight(
                f"A retry of execution {record.execution_id} with this idempotency key is still under "
                "way; retry shortly",
                execution_id=record.execution_id,
            )
        return self._retry_releasing(record, key)

    def _retry_releasing(self, record: ExecutionRecord, key: RetryKeyRecord) -> ExecutionSummary:
        try:
            return self._retry(record)
        except FlowportError:
            # Refused, or AWS busy: this request retried nothing that its key must answer for. Let the key
            # go, so that the client's next try with it is judged afresh (a redrive that did happen is then
            # found again by its client token, or is already recorded).
            self._retries.release_key(key)
            raise


@dataclass(frozen=True)
class RerunCommand:
    execution_id: str
    caller: Caller
    version: int | Literal["latest"] | None = None  # None: the version the execution ran
    idempotency_key: str | None = None
    on_conflict: ConflictStrategy | None = None


class RerunExecution:
    """Start a new execution of the same workflow, version (or another) and input, correlation id and
    priority as an earlier one (Conductor's restart), with `rerunOf` naming it: a start in every other
    way, by StartExecution itself, so it needs the start scope of the workflow too."""

    def __init__(self, store: ExecutionStore, starter: StartExecution, clock: Clock = utcnow) -> None:
        self._store = store
        self._starter = starter
        self._clock = clock

    def rerun(self, command: RerunCommand) -> Started:
        record = _visible(self._store, command.execution_id, command.caller, self._clock().timestamp())
        version = record.version if command.version is None else command.version
        started = self._starter.start(
            StartCommand(
                workflow=record.workflow,
                version=None if version == LATEST else int(version),
                input=record.input,
                source=ExecutionSource.HTTP_POST,
                caller=command.caller,
                correlation_id=record.correlation_id,
                priority=record.priority,
                idempotency_key=command.idempotency_key,
                on_conflict=command.on_conflict,
                rerun_of=record.execution_id,
                # Its callback, checked again as a start's (and signed with the rerunning principal's secret).
                callback_url=record.callback.url if record.callback else None,
                callback_events=record.callback.events if record.callback else None,
                links_base=record.callback.links_base if record.callback else "",
            )
        )
        try:
            self._store.note_rerun(record.execution_id, started.execution.execution_id)
        except Exception:  # any failure of this one write: the rerun runs, only its link is missing
            # Failing the answer now would make a client start another rerun; a retry of the same request
            # (with its key) adds the link.
            logger.exception(
                "rerun %s of %s not noted on it", started.execution.execution_id, record.execution_id
            )
        return started
