"""Known gaps of moto's Step Functions that local mode and the tests would otherwise trip over, handled here
and nowhere else (see ../shared/notes/moto-local-facts.md; tests/local/test_moto_fixes.py checks each).

- StopExecution race: moto's execution worker builds its environment only after parsing the definition,
  so a StopExecution soon after StartExecution raises AttributeError inside moto and the execution keeps
  running. AWS has no such window: we wait (bounded) until the worker is ready, then stop it.
"""

from __future__ import annotations

import datetime
import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

WORKER_READY_TIMEOUT_SECONDS = 5.0
_original_stop = ExecutionWorker.stop


def _stop_when_ready(
    self: ExecutionWorker, stop_date: datetime.datetime, error: str | None, cause: str | None
) -> None:
    deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
    while self.env is None and time.monotonic() < deadline:
        time.sleep(0.005)
    _original_stop(self, stop_date=stop_date, error=error, cause=cause)


_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_write_lock = threading.RLock()


def _serialised(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _write_lock:
            return write(*args, **kwargs)

    locked.__flowport_serialised__ = True  # type: ignore[attr-defined]
    return locked


def apply() -> None:
    ExecutionWorker.stop = _stop_when_ready  # type: ignore[method-assign]
    for name in _WRITES:
        if not is_serialised(name):
            setattr(DynamoDBBackend, name, _serialised(getattr(DynamoDBBackend, name)))


def is_serialised(name: str) -> bool:
    return getattr(getattr(DynamoDBBackend, name), "__flowport_serialised__", False)


def is_applied() -> bool:
    return ExecutionWorker.stop is _stop_when_ready and all(is_serialised(name) for name in _WRITES)
