"""Use cases: start, read and cancel executions. Rules come from the pure modules; AWS from the adapters."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flowport import history, idempotency, inputs, search, status, sync
from flowport.aws.gateway import StepFunctionsGateway
from flowport.aws.store import ExecutionStore, KeyTaken
from flowport.errors import (
    ExecutionNotCancellable,
    ExecutionNotFound,
    IdempotencyConflict,
    IdempotencyKeyInFlight,
    ServiceUnavailable,
)
from flowport.idempotency import ConflictAction, PendingStart
from flowport.models import (
    CancelResult,
    ConflictStrategy,
    ExecutionDetail,
    ExecutionError,
    ExecutionHistory,
    ExecutionRecord,
    ExecutionSource,
    ExecutionStatus,
    ExecutionSummary,
    IdempotencyKeyRecord,
)
from flowport.progress import Progress
from flowport.registry import Registry, Workflow
from flowport.settings import Settings
from flowport.status import Observation
from flowport.sync import StatusChange

# A keyed start retries its conditional write at most this often (each retry means a race was lost).
MAX_KEY_ATTEMPTS = 3
START_FAILED = ExecutionError(code="start_failed", message="Step Functions did not accept the execution")
CANCEL_CAUSE = "Cancelled through the flowport API"


@dataclass(frozen=True)
class StartCommand:
    workflow: str
    version: int | None
    input: dict[str, Any]
    source: ExecutionSource
    correlation_id: str | None = None
    priority: int = 0
    idempotency_key: str | None = None
    on_conflict: ConflictStrategy | None = None


@dataclass(frozen=True)
class Started:
    execution: ExecutionSummary
    replayed: bool  # True when an idempotency key returned an existing execution


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _new_execution_id() -> str:
    # 122 random bits: unguessable, and a valid Step Functions execution name.
    return str(uuid.uuid4())


class ExecutionService:
    def __init__(
        self,
        registry: Registry,
        store: ExecutionStore,
        gateway: StepFunctionsGateway,
        settings: Settings,
        clock: Callable[[], datetime] = _utcnow,
        new_id: Callable[[], str] = _new_execution_id,
    ) -> None:
        self._registry = registry
        self._store = store
        self._gateway = gateway
        self._settings = settings
        self._clock = clock
        self._new_id = new_id

    # -- start -------------------------------------------------------------------------------------------

    def workflow_to_start(self, name: str) -> Workflow:
        workflow = self._registry.find(name)
        workflow.require_enabled()
        return workflow

    def start(self, command: StartCommand) -> Started:
        workflow = self.workflow_to_start(command.workflow)
        version = workflow.resolve_version(command.version)
        inputs.validate_input(workflow, command.input)
        if command.idempotency_key is None:
            record = self._new_record(workflow, version, command, key_hash=None)
            self._store.create(
                record,
                None,
                now=record.created_at.timestamp(),
                search_keys=search.search_keys(workflow, command.input),
            )
            self._launch(record, key=None)
            return Started(
                status.summary_of(record.model_copy(update={"status": ExecutionStatus.RUNNING})), False
            )
        return self._start_keyed(workflow, version, command)

    def _start_keyed(self, workflow: Workflow, version: int, command: StartCommand) -> Started:
        assert command.idempotency_key is not None
        assert command.on_conflict is not None
        key_hash = idempotency.hash_key(command.idempotency_key)
        request_fingerprint = idempotency.fingerprint(workflow.name, version, command.input)
        search_keys = search.search_keys(workflow, command.input)
        replaces_generation: int | None = None
        for _ in range(MAX_KEY_ATTEMPTS):
            record = self._new_record(workflow, version, command, key_hash)
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
                self._launch(record, key)
                return Started(
                    status.summary_of(record.model_copy(update={"status": ExecutionStatus.RUNNING})), False
                )
            idempotency.ensure_same_request(existing, request_fingerprint)
            existing_status, launched_here = self._status_of_key(existing, command.on_conflict)
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
        self, key: IdempotencyKeyRecord, strategy: ConflictStrategy
    ) -> tuple[ExecutionStatus, bool]:
        """The status of the key's execution, and whether this request had to launch it."""
        if not idempotency.needs_observation(strategy, key.status):
            return key.status, False
        observation = self._gateway.describe(key.execution_arn)
        if observation is not None:
            return observation.status, False
        now = self._clock().timestamp()
        pending = idempotency.pending_start(
            key.lease_until, key.created_at.timestamp(), now, self._settings.start_deadline_seconds
        )
        if pending is PendingStart.ABANDONED:
            return ExecutionStatus.FAILED, False
        if pending is PendingStart.TAKE_OVER and self._store.take_over_start(
            key, lease_until=now + self._settings.start_lease_seconds
        ):
            record = self._store.get(key.execution_id, now)
            if record is None:
                return ExecutionStatus.FAILED, False
            if record.status.is_terminal:  # cancelled before it ever started
                return record.status, False
            self._launch(record, key)
            return ExecutionStatus.RUNNING, True
        raise IdempotencyKeyInFlight(
            f"Execution {key.execution_id} for this idempotency key is still being started; retry shortly",
            execution_id=key.execution_id,
        )

    def _launch(self, record: ExecutionRecord, key: IdempotencyKeyRecord | None) -> None:
        try:
            self._gateway.start(
                record.state_machine_arn, record.execution_id, inputs.serialize_input(record.input)
            )
        except Exception as error:
            # Leave nothing stuck: a keyed request's retry may start this execution at once; an unkeyed
            # one cannot be retried by anyone, so its record says why it never ran. Whatever Step Functions
            # answered (throttled, or a refusal a retry may not cure), the client gets the documented 503.
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
            if isinstance(error, ServiceUnavailable):
                raise
            raise ServiceUnavailable("Step Functions did not accept the execution; retry shortly") from error

    def _new_record(
        self, workflow: Workflow, version: int, command: StartCommand, key_hash: str | None
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
            idempotency_key_hash=key_hash,
            expires_at=status.expiry_for_new(now, workflow, self._settings.max_run_seconds),
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
            status=ExecutionStatus.QUEUED,
            lease_until=record.created_at.timestamp() + self._settings.start_lease_seconds,
            expires_at=record.expires_at,
        )

    # -- read --------------------------------------------------------------------------------------------

    def get(self, execution_id: str) -> ExecutionDetail:
        record = self._current(self._find(execution_id))
        return self._detail(record, output_missing=record.output_in_step_functions)

    def observe(self, execution_id: str) -> tuple[ExecutionDetail, list[dict[str, Any]]]:
        """The execution's status document and its whole history (without data), for its event stream."""
        stored = self._find(execution_id)
        events = self._gateway.full_history(stored.execution_arn, include_data=False)
        record = self._current_from(stored, events)
        # A history read without data has no output: a finish not yet synced needs it from Step Functions.
        output_missing = record.output_in_step_functions or not stored.status.is_terminal
        return self._detail(record, output_missing), events or []

    def _detail(self, record: ExecutionRecord, output_missing: bool) -> ExecutionDetail:
        if output_missing and record.status is ExecutionStatus.COMPLETED:
            record = record.model_copy(update={"output": self._output_from_step_functions(record)})
        return status.detail_of(record, self._registry.get(record.workflow))

    def history(
        self, execution_id: str, *, include_io: bool, next_token: str | None, limit: int
    ) -> ExecutionHistory:
        """One page of the execution's state runs; the whole Step Functions history is read for it."""
        after = history.position(next_token)  # a bad token costs no AWS call
        record = self._find(execution_id)
        events = self._gateway.full_history(record.execution_arn, include_data=include_io) or []
        runs = history.node_runs(events, history.IO_CAP_BYTES if include_io else 0)
        return history.page(execution_id, runs, after, limit, include_io)

    def _find(self, execution_id: str) -> ExecutionRecord:
        record = self._store.get(execution_id, self._clock().timestamp())
        if record is None:
            raise ExecutionNotFound(
                f"No execution '{execution_id}' (unknown, or deleted after its retention)"
            )
        return record

    def _current(self, record: ExecutionRecord) -> ExecutionRecord:
        """A finished record as it is; an unfinished one brought up to date from one page of history."""
        if record.status.is_terminal:
            return record
        return self._current_from(record, self._gateway.history(record.execution_arn))

    def _current_from(self, record: ExecutionRecord, events: list[dict[str, Any]] | None) -> ExecutionRecord:
        if record.status.is_terminal:
            return record
        now, deadline = self._clock(), self._settings.start_deadline_seconds
        if events is None:
            return status.current_record(record, None, now, deadline)
        observation, progress = self._observe(record, events)
        return status.current_record(record, observation, now, deadline, progress)

    def _observe(self, record: ExecutionRecord, events: list[dict[str, Any]]) -> tuple[Observation, Progress]:
        workflow = self._registry.get(record.workflow)
        definition = self._registry.definition(workflow, record.version) if workflow else {}
        return status.observation_from_history(events, definition, record.status_variables.get("progress"))

    def apply_status_change(self, change: StatusChange) -> bool:
        """Move the record forward as Step Functions reports; False when the event is old news or not ours."""
        record = self._store.get(change.name, self._clock().timestamp())
        if record is None or record.execution_arn != change.execution_arn:
            return False
        if sync.runs_though_cancelled(record, change):
            self._stop_if_running(record)
            return False
        output = None
        if change.flowport_status is ExecutionStatus.COMPLETED:
            output = (
                sync.output_of(change) if change.output_included else self._output_from_step_functions(record)
            )
        updated = sync.advanced(record, change, output)
        if updated is None:
            return False
        if updated.status is ExecutionStatus.RUNNING:
            return self._store.mark_running(updated)
        return self._store.finish(self._with_retention(self._with_final_progress(updated)))

    def _stop_if_running(self, record: ExecutionRecord) -> None:
        # Asked first: the event may be a late one of an execution the cancel itself stopped.
        observation = self._gateway.describe(record.execution_arn)
        if observation is not None and not observation.status.is_terminal:
            self._gateway.stop(record.execution_arn, cause=CANCEL_CAUSE)

    def _with_final_progress(self, record: ExecutionRecord) -> ExecutionRecord:
        """The finished record with how far it got and where it failed, so reading it costs no more calls."""
        events = self._gateway.history(record.execution_arn)
        if events is None:
            return record
        observation, progress = self._observe(record, events)
        error = record.error
        if error is not None and observation.error is not None and observation.error.node:
            error = error.model_copy(update={"node": observation.error.node})
        return record.model_copy(update={"progress": status.snapshot(progress), "error": error})

    def _output_from_step_functions(self, record: ExecutionRecord) -> Any:
        observation = self._gateway.describe(record.execution_arn)
        return observation.output if observation is not None else None

    def settle(self, execution_id: str) -> ExecutionStatus:
        """Bring a record up to date with Step Functions, keeping the outcome once it has finished."""
        record = self._find(execution_id)
        current = self._current(record)
        if current.status.is_terminal and not record.status.is_terminal:
            self._store.finish(self._with_retention(current))
        return current.status

    # -- cancel ------------------------------------------------------------------------------------------

    def cancel(self, execution_id: str) -> CancelResult:
        record = self._current(self._find(execution_id))
        if record.status.is_terminal:
            self._store.finish(self._with_retention(record))
            raise self._not_cancellable(record.execution_id, record.status, "it has already finished")
        if not self._store.request_cancel(execution_id, self._clock().isoformat()):
            raise self._not_cancellable(execution_id, record.status, "its cancellation is already under way")
        try:
            if record.status is ExecutionStatus.RUNNING:
                self._gateway.stop(record.execution_arn, cause=CANCEL_CAUSE)
        except ServiceUnavailable:
            self._store.withdraw_cancel(execution_id)
            raise
        now = self._clock()
        self._store.finish(
            self._with_retention(
                record.model_copy(update={"status": ExecutionStatus.CANCELLED, "completed_at": now})
            )
        )
        return CancelResult(
            execution_id=execution_id,
            cancelled=True,
            previous_status=record.status,
            status=ExecutionStatus.CANCELLED,
            message=f"Execution {execution_id} was cancelled",
        )

    def _with_retention(self, record: ExecutionRecord) -> ExecutionRecord:
        cleanup = status.cleanup_after(record.completed_at, self._registry.get(record.workflow))
        return record.model_copy(update={"expires_at": int(cleanup.timestamp())}) if cleanup else record

    @staticmethod
    def _not_cancellable(execution_id: str, current: ExecutionStatus, why: str) -> ExecutionNotCancellable:
        return ExecutionNotCancellable(
            f"Execution {execution_id} cannot be cancelled: {why}",
            execution_id=execution_id,
            cancelled=False,
            execution_status=current,
        )
