"""Executions as they are now: the record, brought up to date with what Step Functions last said.

Shared by the use cases that read an execution. A running execution is read through its live view
(flowport.core.live): one history read serves every reader for `live_view_seconds`, so the account's
GetExecutionHistory quota is spent per execution and second, not per watcher.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowport.core import admission, live, retry, status
from flowport.core.clock import Clock, utcnow
from flowport.core.errors import execution_not_found
from flowport.core.identity import Action, Caller
from flowport.core.models import ExecutionDetail, ExecutionRecord, ExecutionStatus, LiveView
from flowport.core.ports import ExecutionStore, LiveViewStore, WorkflowEngine, WorkflowQueue
from flowport.core.registry import Registry
from flowport.settings import Settings


@dataclass(frozen=True)
class Look:
    """An execution as one read found it."""

    record: ExecutionRecord
    """Brought up to date with the view while it runs; as stored once it finished."""
    view: LiveView | None
    """What its history said (None: no history read, or Step Functions has no such execution)."""
    recorded: bool = True
    """Whether the stored record already holds how it ended (False: only Step Functions knows yet)."""


not_found = execution_not_found


class LiveExecutions:
    def __init__(
        self,
        registry: Registry,
        store: ExecutionStore,
        views: LiveViewStore,
        engine: WorkflowEngine,
        queue: WorkflowQueue,
        settings: Settings,
        clock: Clock = utcnow,
    ) -> None:
        self._registry = registry
        self._store = store
        self._views = views
        self._engine = engine
        self._queue = queue
        self._settings = settings
        self._clock = clock

    def find(self, execution_id: str, caller: Caller | None) -> ExecutionRecord:
        """The stored record; ExecutionNotFound if there is none (or it expired), or if `caller` may not
        read it (None: flowport itself, as its own sync)."""
        record = self._store.get(execution_id, self._clock().timestamp())
        return self._visible(execution_id, record, caller)

    def look(self, execution_id: str, caller: Caller | None, *, need_final_view: bool = False) -> Look:
        """The execution now. A finished one as stored (with its final view when asked for, for the
        node events a stream still has to send); a running one brought up to date by a live view.
        ExecutionNotFound as for `find`, before any read of Step Functions."""
        now = self._clock()
        found, view = self._views.read(execution_id, now.timestamp(), finished_view=need_final_view)
        record = self._visible(execution_id, found, caller)
        if record.waiting:  # Step Functions has not heard of it: nothing to read there
            return Look(admission.as_it_waits(record, self._registry.get(record.workflow), now), None)
        if record.status.is_terminal:
            if not need_final_view or (view is not None and view.final):
                return Look(record, view)
            # Its history is complete now: any view observed before this moment is stale.
            return Look(record, self._refreshed(record, view, now, stale_before=now.timestamp()))
        fresh = (
            view is not None
            and view.redrive_count >= record.redrive_count  # else the view of an attempt before a retry
            and live.is_fresh(view, now.timestamp(), self._settings.live_view_seconds)
        )
        if not fresh:
            view = self._refreshed(record, view, now, now.timestamp() - self._settings.live_view_seconds)
        current = status.current_record(record, view, now, self._settings.start_deadline_seconds)
        return Look(current, view, recorded=False)

    @staticmethod
    def _visible(execution_id: str, record: ExecutionRecord | None, caller: Caller | None) -> ExecutionRecord:
        # One the caller may not read is not found, exactly as an unknown id: no existence oracle.
        if record is None or (
            caller is not None and not caller.may_see(Action.READ, record.workflow, record.started_by)
        ):
            raise not_found(execution_id)
        return record

    def _refreshed(
        self, record: ExecutionRecord, stale: LiveView | None, now: datetime, stale_before: float
    ) -> LiveView | None:
        claimed = self._views.claim_refresh(
            record.execution_id,
            now.timestamp(),
            stale_before,
            self._settings.live_view_claim_seconds,
            attempt=record.redrive_count,
        )
        if not claimed and stale is not None and stale.redrive_count >= record.redrive_count:
            return stale  # another reader is reading the history right now
        view = self.view_from_history(record, now)
        if claimed and view is not None:
            self._views.put(record.execution_id, view, record.expires_at)
        return view

    def view_from_history(self, record: ExecutionRecord, now: datetime) -> LiveView | None:
        """A new view from the newest page of the history; None if Step Functions has no such execution."""
        events = self._engine.history_page(record.execution_arn)
        if events is None:
            return None
        view = live.view_of(events, self._definition(record), now.timestamp())
        # A record of attempt N was written after Step Functions redrove it N times (a retry records its
        # attempt after the redrive; the sync function, on hearing of it), so this history read, made after,
        # is of attempt N at least, even when its newest page no longer holds the ExecutionRedriven event.
        return view.model_copy(update={"redrive_count": max(view.redrive_count, record.redrive_count)})

    def keep_final_view(self, record: ExecutionRecord, view: LiveView) -> None:
        """Keep a finished execution's view, so that no stream has to read its history again."""
        if view.final:
            self._views.put(record.execution_id, view, record.expires_at)

    def _definition(self, record: ExecutionRecord) -> dict[str, Any]:
        workflow = self._registry.get(record.workflow)
        return self._registry.definition(workflow, record.version) if workflow else {}

    def detail(self, look: Look) -> ExecutionDetail:
        """The status document of what a look found."""
        record = look.record
        if record.status is ExecutionStatus.COMPLETED and (
            record.output_in_step_functions or not look.recorded
        ):
            # Too large for the record, or finished before the sync function recorded it.
            record = record.model_copy(update={"output": self.output_from_step_functions(record)})
        position = None
        if record.waiting:
            assert record.queue_order is not None
            position = 1 + self._queue.ahead_of(record.workflow, record.queue_order)
        return status.detail_of(record, self._registry.get(record.workflow), position)

    def output_from_step_functions(self, record: ExecutionRecord) -> Any:
        observation = self._engine.describe(record.execution_arn)
        return observation.output if observation is not None else None

    def expiry_of_a_new_run(self, record: ExecutionRecord, now: datetime) -> int:
        """The TTL of a record that runs again (a retry's new attempt): a new start's from now."""
        workflow = self._registry.get(record.workflow)
        return retry.new_run_expiry(record, workflow, now, self._settings.max_run_seconds)

    def with_retention(self, record: ExecutionRecord) -> ExecutionRecord:
        """A finished record with its expiry set to the end of its workflow's retention."""
        return status.retained(record, self._registry.get(record.workflow))
