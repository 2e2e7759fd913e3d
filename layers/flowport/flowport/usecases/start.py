"""Use case: start an execution, safely retried with an idempotency key (rules: flowport.core.idempotency)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowport.core import admission, idempotency, index, inputs, policy, status
from flowport.core.clock import Clock, utcnow
from flowport.core.errors import (
    CallbackRefused,
    IdempotencyConflict,
    IdempotencyKeyInFlight,
    ServiceUnavailable,
)
from flowport.core.idempotency import ConflictAction, PendingStart
from flowport.core.identity import Caller
from flowport.core.models import (
    Callback,
    CallbackEvent,
    ConflictStrategy,
    ExecutionError,
    ExecutionRecord,
    ExecutionSource,
    ExecutionStatus,
    ExecutionSummary,
    IdempotencyKeyRecord,
)
from flowport.core.ports import ExecutionStore, KeyTaken, WorkflowEngine
from flowport.core.registry import Registry, Workflow
from flowport.settings import Settings
from flowport.usecases.admission import Admission

if TYPE_CHECKING:
    from flowport.usecases.webhooks import CallbackCheck, EnqueueDelivery

# A keyed start retries its conditional write at most this often (each retry means a race was lost).
MAX_KEY_ATTEMPTS = 3
START_FAILED = ExecutionError(code="start_failed", message="Step Functions did not accept the execution")


@dataclass(frozen=True)
class StartCommand:
    workflow: str
    version: int | None
    input: dict[str, Any]
    source: ExecutionSource
    caller: Caller
    correlation_id: str | None = None
    priority: int = 0
    idempotency_key: str | None = None
    on_conflict: ConflictStrategy | None = None
    rerun_of: str | None = None  # the execution this start reruns (flowport.usecases.retry)
    callback_url: str | None = None
    callback_events: tuple[CallbackEvent, ...] | None = None
    links_base: str = ""  # the API's URL as this request reached it, for a callback's links


@dataclass(frozen=True)
class Started:
    execution: ExecutionSummary
    replayed: bool  # True when an idempotency key returned an existing execution


def _new_execution_id() -> str:
    # 122 random bits: unguessable, and a valid Step Functions execution name.
    return str(uuid.uuid4())


class StartExecution:
    """Start an execution: validate, write its record (and key) conditionally, start it in Step Functions."""

    def __init__(
        self,
        registry: Registry,
        store: ExecutionStore,
        engine: WorkflowEngine,
        admission: Admission,
        settings: Settings,
        clock: Clock = utcnow,
        new_id: Callable[[], str] = _new_execution_id,
        callbacks: CallbackCheck | None = None,
        deliveries: EnqueueDelivery | None = None,
    ) -> None:
        """`callbacks`: None where starts take no callback (one asked for is refused); `deliveries`:
        where a start that joins its workflow's queue says so to a callback that asked (`queued`)."""
        self._registry = registry
        self._store = store
        self._engine = engine
        self._admission = admission
        self._settings = settings
        self._clock = clock
        self._new_id = new_id
        self._callbacks = callbacks
        self._deliveries = deliveries

    def workflow_to_start(self, name: str, caller: Caller) -> Workflow:
        """The workflow, if this caller may start it now: authentication and scope come first, so that a
        caller who may not start it learns nothing of its input rules."""
        workflow = self._registry.find(name)
        policy.require_start(caller, workflow)
        workflow.require_enabled()
        return workflow

    def start(self, command: StartCommand) -> Started:
        workflow = self.workflow_to_start(command.workflow, command.caller)
        version = workflow.resolve_version(command.version)
        inputs.validate_input(workflow, command.input)
        callback = self._callback(workflow, command)
        if command.idempotency_key is None:
            record, admitted = self._admitted(
                self._new_record(workflow, version, command, key_hash=None, callback=callback)
            )
            try:
                self._store.create(
                    record,
                    None,
                    now=record.created_at.timestamp(),
                    search_keys=index.search_keys(workflow, command.input),
                )
            except Exception:
                if admitted:  # a new execution's slot: this request took it
                    self._admission.give_back(record, admission.Hold.TAKEN)
                raise
            return self._started(record, admitted, key=None)
        return self._start_keyed(workflow, version, command, callback)

    def _callback(self, workflow: Workflow, command: StartCommand) -> Callback | None:
        if self._callbacks is None:
            if command.callback_url is not None:
                raise CallbackRefused("This API takes no callbackUrl")
            return None
        return self._callbacks.callback_for(
            workflow, command.caller, command.callback_url, command.callback_events, command.links_base
        )

    def _admitted(self, record: ExecutionRecord) -> tuple[ExecutionRecord, bool]:
        """The new record with a slot taken for it (True), or as it joins the queue (False)."""
        if self._admission.admit(record) is not admission.Hold.REFUSED:
            return record, True
        return self._admission.waiting(record, record.created_at), False

    def _admit_created(self, record: ExecutionRecord, key: IdempotencyKeyRecord) -> Started:
        """A slot for a record written without one (a keyed start's), or its place in the queue. A crash
        before this leaves a record neither holding a slot nor waiting: only a retry with its key can
        start it, and that retry comes here too (`_status_of_key`)."""
        if self._admission.admit(record) is not admission.Hold.REFUSED:
            return self._started(record, True, key)
        waiting = self._admission.waiting(record, self._clock())
        if not self._store.enqueue(waiting):  # cancelled meanwhile: it is over before it began
            found = self._store.get(record.execution_id, self._clock().timestamp())
            return Started(status.summary_of(found or record), False)
        return self._started(waiting, False, key)

    def _started(self, record: ExecutionRecord, admitted: bool, key: IdempotencyKeyRecord | None) -> Started:
        if not admitted:
            if self._deliveries is not None:
                self._deliveries.reported(record)
            if not self._admission.recheck(record):
                return Started(status.summary_of(record), False)
        else:
            self._launch(record, key)
        return Started(
            status.summary_of(record.model_copy(update={"status": ExecutionStatus.RUNNING})), False
        )

    def _start_keyed(
        self, workflow: Workflow, version: int, command: StartCommand, callback: Callback | None
    ) -> Started:
        assert command.idempotency_key is not None
        assert command.on_conflict is not None
        # Keys are the caller's own, as Stripe's are the account's: another principal's same key is another.
        key_hash = idempotency.hash_key(command.idempotency_key, scope=command.caller.idempotency_scope)
        asked = (
            {"url": command.callback_url, "events": sorted(command.callback_events or ())}
            if command.callback_url is not None
            else None
        )
        request_fingerprint = idempotency.fingerprint(
            workflow.name, version, command.input, command.rerun_of, asked
        )
        search_keys = index.search_keys(workflow, command.input)
        replaces_generation: int | None = None
        for _ in range(MAX_KEY_ATTEMPTS):
            record = self._new_record(workflow, version, command, key_hash, callback)
            key = self._new_key(record, request_fingerprint, generation=(replaces_generation or 0) + 1)
            try:
                self._store.create(
                    record,
                    key,
                    now=record.created_at.timestamp(),
                    replaces_generation=replaces_generation,
                    search_keys=search_keys,
                )
            except KeyTaken as taken:
                if taken.existing is None:  # the key changed under us; look again
                    continue
                existing = taken.existing
            else:
                # The slot after the key: a replay, the common keyed retry, costs its one write alone.
                return self._admit_created(record, key)
            idempotency.ensure_same_request(existing, request_fingerprint)
            existing_status, launched_here = self._status_of_key(existing, command.on_conflict, workflow)
            if launched_here:  # the request that wrote the key never started it: this one did, for it
                return Started(status.summary_of_key(existing, existing_status), replayed=False)
            action = idempotency.on_conflict(command.on_conflict, existing_status)
            if action is ConflictAction.REPLAY:
                return Started(status.summary_of_key(existing, existing_status), replayed=True)
            if action is ConflictAction.REJECT:
                raise IdempotencyConflict(
                    f"Execution {existing.execution_id} was started with this idempotency key "
                    f"and is {existing_status.value}",
                    execution_id=existing.execution_id,
                )
            replaces_generation = existing.generation
        raise IdempotencyKeyInFlight("Requests with this idempotency key keep racing; retry shortly")

    def _status_of_key(
        self, key: IdempotencyKeyRecord, strategy: ConflictStrategy, workflow: Workflow
    ) -> tuple[ExecutionStatus, bool]:
        """The status of the key's execution, and whether this request had to launch it."""
        if not idempotency.needs_observation(strategy, key.status):
            return key.status, False
        observation = self._engine.describe(key.execution_arn)
        if observation is not None:
            return observation.status, False
        now = self._clock()
        record = self._store.get(key.execution_id, now.timestamp())
        if record is None:
            return ExecutionStatus.FAILED, False
        if record.status.is_terminal:  # cancelled before it ever started
            return record.status, False
        if record.waiting:  # it waits for a slot: nobody is to start it yet
            return admission.as_it_waits(record, workflow, now).status, False
        sent_at = record.dispatched_at or record.created_at
        pending = idempotency.pending_start(
            key.lease_until, sent_at.timestamp(), now.timestamp(), self._settings.start_deadline_seconds
        )
        if pending is PendingStart.ABANDONED:
            return ExecutionStatus.FAILED, False
        if pending is PendingStart.TAKE_OVER and self._store.take_over_start(
            key, lease_until=now.timestamp() + self._settings.start_lease_seconds
        ):
            # Read again: a cancel may have come since, and a cancelled record must not start.
            record = self._store.get(key.execution_id, now.timestamp())
            if record is None:
                return ExecutionStatus.FAILED, False
            if record.status.is_terminal:
                return record.status, False
            started = self._admit_created(record, key)  # it holds its slot already, unless it died first
            return started.execution.status, True
        raise IdempotencyKeyInFlight(
            f"Execution {key.execution_id} for this idempotency key is still being started; retry shortly",
            execution_id=key.execution_id,
        )

    def _launch(self, record: ExecutionRecord, key: IdempotencyKeyRecord | None) -> None:
        try:
            self._admission.launch(record)
        except Exception as error:
            # Leave nothing stuck: a keyed request's retry may start this execution at once (it keeps its
            # slot for that); an unkeyed one cannot be retried by anyone, so its record says why it never
            # ran and its slot is freed. Whatever Step Functions answered (throttled, or a refusal a retry
            # may not cure), the client gets the documented 503.
            if key is not None:
                self._store.release_start(key.key_hash, record.execution_id)
            else:
                self._store.finish(
                    record.model_copy(
                        update={
                            "status": ExecutionStatus.FAILED,
                            "error": START_FAILED,
                            "completed_at": self._clock(),
                        }
                    )
                )
                self._admission.give_back(record, admission.Hold.TAKEN)
            if isinstance(error, ServiceUnavailable):
                raise
            raise ServiceUnavailable("Step Functions did not accept the execution; retry shortly") from error

    def _new_record(
        self,
        workflow: Workflow,
        version: int,
        command: StartCommand,
        key_hash: str | None,
        callback: Callback | None,
    ) -> ExecutionRecord:
        now = self._clock()
        return ExecutionRecord(
            execution_id=self._new_id(),
            workflow=workflow.name,
            version=version,
            state_machine_arn=self._settings.state_machine_arn_prefix + workflow.state_machine_name(version),
            status=ExecutionStatus.QUEUED,
            correlation_id=command.correlation_id,
            priority=command.priority,
            input=command.input,
            source=command.source,
            created_at=now,
            started_by=command.caller.principal_id,
            idempotency_key_hash=key_hash,
            expires_at=status.expiry_for_new(now, workflow, self._settings.max_run_seconds),
            rerun_of=command.rerun_of,
            callback=callback,
        )

    def _new_key(
        self, record: ExecutionRecord, request_fingerprint: str, generation: int
    ) -> IdempotencyKeyRecord:
        assert record.idempotency_key_hash is not None
        return IdempotencyKeyRecord(
            key_hash=record.idempotency_key_hash,
            generation=generation,
            fingerprint=request_fingerprint,
            execution_id=record.execution_id,
            workflow=record.workflow,
            version=record.version,
            state_machine_arn=record.state_machine_arn,
            correlation_id=record.correlation_id,
            priority=record.priority,
            created_at=record.created_at,
            started_by=record.started_by,
            status=ExecutionStatus.QUEUED,
            lease_until=record.created_at.timestamp() + self._settings.start_lease_seconds,
            expires_at=record.expires_at,
        )
