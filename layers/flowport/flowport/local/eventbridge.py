"""The local counterpart of template.yaml's EventBridge rules, for the events the stack relies on.

moto emits no "Step Functions Execution Status Change" events, and its EventBridge cannot deliver to a
Lambda target. So this module builds those events, shaped as AWS sends them, when moto starts and ends an
execution, and delivers them asynchronously (as EventBridge does) to every function whose rule pattern
accepts them; patterns are matched by moto's own EventBridge `EventPattern`.

moto internals relied on (tests/sync/test_sync.py fails loudly if they change):
- `moto.stepfunctions.parser.backend.execution.Execution.start(self)` starts an execution's worker;
- `BaseExecutionWorkerCommunication.terminated(self)` is called when the worker's program ends, after
  which `execution.exec_status`, `stop_date`, `output`, `error` and `cause` hold the outcome.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from moto.events.models import EventPattern
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution

from flowport.local.functions import invoke
from flowport.local.redrive import redrive_fields
from flowport.local.template import FunctionSpec, Stack

STATUS_CHANGE = "Step Functions Execution Status Change"
# Lambda's asynchronous invocations: the first attempt and its default two retries.
ASYNC_ATTEMPTS = 3


def _millis(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment is not None else None


def status_change_event(execution: Execution) -> dict[str, Any]:
    status = getattr(execution.exec_status, "value", execution.exec_status)
    output = execution.output
    if output is not None and not isinstance(output, str):
        output = json.dumps(output, separators=(",", ":"))
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": STATUS_CHANGE,
        "source": "aws.states",
        "account": execution.account_id,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": execution.region_name,
        "resources": [execution.exec_arn],
        "detail": {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": str(status),
            "startDate": _millis(execution.start_date),
            "stopDate": _millis(execution.stop_date),
            "input": execution.execution_input,
            "output": output,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if output is not None else None,
            "error": execution.error,
            "cause": execution.cause,
            # As AWS sends them since redrives exist: the attempt, when it was redriven, whether it may be.
            "redriveDate": None,
            **{
                name: _millis(value) if isinstance(value, datetime) else value
                for name, value in redrive_fields(execution).items()
            },
        },
    }


class LocalEventBus:
    """Delivers events to the functions whose rules match, one at a time, off the caller's thread."""

    def __init__(self, stack: Stack) -> None:
        self._targets: list[tuple[FunctionSpec, EventPattern]] = [
            (spec, EventPattern.load(json.dumps(rule.pattern)))
            for spec in stack.functions.values()
            for rule in spec.rules
        ]
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._undelivered = 0
        self._counting = threading.Lock()
        self._thread = threading.Thread(
            target=self._deliver_all, name="flowport-local-eventbridge", daemon=True
        )
        self._thread.start()

    def publish(self, event: dict[str, Any]) -> None:
        with self._counting:
            self._undelivered += 1
        self._queue.put(event)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued, then stop (before the embedded moto goes away)."""
        self._queue.put(None)
        self._thread.join(timeout)

    def idle(self) -> bool:
        """Whether every event published so far has been delivered (or its delivery has failed)."""
        with self._counting:
            return self._undelivered == 0

    def _deliver_all(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                for spec, pattern in self._targets:
                    if pattern.matches_event(event):  # type: ignore[arg-type]
                        self._deliver(spec, event)
            finally:
                with self._counting:
                    self._undelivered -= 1

    @staticmethod
    def _deliver(spec: FunctionSpec, event: dict[str, Any]) -> None:
        """An asynchronous invocation, as Lambda makes one: tried again twice after a failure."""
        for attempt in range(1, ASYNC_ATTEMPTS + 1):
            try:
                invoke(spec, event)
                return
            except Exception as error:
                report: dict[str, object] = {"level": "ERROR", "message": "event delivery failed"}
                report |= {"function": spec.logical_id, "attempt": attempt}
                report["error"] = f"{type(error).__name__}: {error}"
                print(json.dumps(report), file=sys.stderr)


_bus: LocalEventBus | None = None
_original_start = Execution.start
_original_terminated = BaseExecutionWorkerCommunication.terminated


def started_event(execution: Execution) -> dict[str, Any]:
    """The event of an execution's start: RUNNING, as AWS's first event of an execution always is. moto's
    worker runs on its own thread from the start on, so a short execution may have ended before its start
    is announced; its own end is announced as well."""
    event = status_change_event(execution)
    event["detail"].update(
        status="RUNNING", stopDate=None, output=None, outputDetails=None, error=None, cause=None
    )
    return event


def _start_and_announce(self: Execution) -> None:
    _original_start(self)
    if _bus is not None:
        _bus.publish(started_event(self))


def _terminated_and_announce(self: BaseExecutionWorkerCommunication) -> None:
    _original_terminated(self)
    if _bus is not None:
        _bus.publish(status_change_event(self.execution))


def connect(bus: LocalEventBus | None) -> None:
    """Send moto's execution starts and ends to `bus` (None: to nobody)."""
    global _bus
    _bus = bus
    Execution.start = _start_and_announce  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication.terminated = _terminated_and_announce  # type: ignore[method-assign]
