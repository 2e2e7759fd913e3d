"""Use case: read an execution: its status document, its node history, and what its event stream sends."""

from __future__ import annotations

from flowport.core import history, live
from flowport.core.identity import Caller
from flowport.core.models import ExecutionDetail, ExecutionHistory
from flowport.core.ports import WorkflowEngine
from flowport.core.stream import Cursor, NodeLog
from flowport.usecases.live import LiveExecutions


class ReadExecution:
    def __init__(self, executions: LiveExecutions, engine: WorkflowEngine, token_key: bytes) -> None:
        self._executions = executions
        self._engine = engine
        self._token_key = token_key

    def status(self, execution_id: str, caller: Caller) -> ExecutionDetail:
        """The status document: one read while the live view is fresh or the execution has finished."""
        return self._executions.detail(self._executions.look(execution_id, caller))

    def history(
        self, execution_id: str, caller: Caller, *, include_io: bool, next_token: str | None, limit: int
    ) -> ExecutionHistory:
        """One page of the execution's state runs; the whole Step Functions history is read for it."""
        after = history.position(next_token, execution_id, self._token_key)  # a bad token costs no AWS call
        record = self._executions.find(execution_id, caller)
        events = self._engine.full_history(record.execution_arn, include_data=include_io) or []
        runs = history.node_runs(events, history.IO_CAP_BYTES if include_io else 0)
        return history.page(execution_id, runs, after, limit, include_io, self._token_key)

    def events(self, execution_id: str, caller: Caller, cursor: Cursor) -> tuple[ExecutionDetail, NodeLog]:
        """The status document and the node log a stream at `cursor` needs: from the live view, unless
        the client is further behind than the view reaches (then the whole history, once)."""
        look = self._executions.look(execution_id, caller, need_final_view=True)
        detail = self._executions.detail(look)
        view = look.view
        if view is None:  # Step Functions has no such execution: it never started
            return detail, NodeLog((), 0, ended=detail.status.is_terminal)
        if live.covers(view, cursor.event_id):
            return detail, live.log_of(view)
        events = self._engine.full_history(look.record.execution_arn, include_data=False) or []
        return detail, live.node_log(events)
