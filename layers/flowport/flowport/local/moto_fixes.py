"""Known gaps of moto's Step Functions that local mode and the tests would otherwise trip over, handled here
and nowhere else (see ../shared/notes/moto-local-facts.md; tests/local/test_moto_fixes.py checks each).

- StopExecution race: moto's execution worker builds its environment only after parsing the definition,
  and its program only counts as running once it has entered its first state; a StopExecution before
  then raises AttributeError inside moto, or is silently ignored, and the execution keeps running; a
  stop between two states can fail the execution or be slept through. AWS has no such windows: we wait
  (bounded) until the execution sits in a state, then stop it.
- DynamoDB requests racing each other: moto's conditional writes are not atomic, and it answers reads with
  its live items, so a read that serialises an item while another thread updates it fails ("dictionary
  changed size during iteration"). AWS reads and writes each item atomically: here every DynamoDB request
  runs under one lock.
- Deploy time: moto validates a definition by parsing it with its ANTLR grammar, about 0.1 s each, on every
  CreateStateMachine. The parse only checks the text, so a definition already found valid is not parsed
  again: a test's fresh stack then deploys in a third of the time.
"""

from __future__ import annotations

import datetime
import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from moto.dynamodb.responses import DynamoHandler
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

WORKER_READY_TIMEOUT_SECONDS = 5.0
# History events after which an execution sits waiting (on a timer or a task) rather than moving between
# states: stopping it there is what a StopExecution in AWS does. Mid-transition, moto's interpreter can
# fail (IndexError) or enter a Wait after the stop and sleep it out.
_WAITING_EVENTS = frozenset(
    {
        "WaitStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSubmitted",
        "LambdaFunctionScheduled",
        "LambdaFunctionStarted",
        "ActivityScheduled",
        "MapIterationStarted",
        "ParallelStateStarted",
    }
)
_original_stop = ExecutionWorker.stop


def _is_settled(worker: ExecutionWorker) -> bool:
    environment = worker.env
    if environment is None or environment.program_state() is None:
        return False
    if not environment.is_running():
        return True
    history = environment.event_manager.get_event_history()
    # The type is moto's HistoryEventType, a str Enum whose str() is "HistoryEventType.<name>": use its value.
    kind = history[-1]["type"] if history else None
    return kind is not None and str(getattr(kind, "value", kind)) in _WAITING_EVENTS


def _stop_when_settled(
    self: ExecutionWorker, stop_date: datetime.datetime, error: str | None, cause: str | None
) -> None:
    deadline = time.monotonic() + WORKER_READY_TIMEOUT_SECONDS
    while not _is_settled(self) and time.monotonic() < deadline:
        time.sleep(0.005)
    _original_stop(self, stop_date=stop_date, error=error, cause=cause)
    environment = self.env
    if environment is not None:
        # A Wait that began between the history event and its sleep missed the stop's signal: repeat it.
        threading.Thread(target=_wake_waits, args=(environment,), daemon=True).start()


def _wake_waits(environment: Any) -> None:
    for _ in range(20):
        time.sleep(0.01)
        environment.program_state_event.set()
        environment.program_state_event.clear()


_request_lock = threading.RLock()


def _serialised(handle: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(handle)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with _request_lock:
            return handle(*args, **kwargs)

    locked.__flowport_serialised__ = True  # type: ignore[attr-defined]
    return locked


_original_validate_definition = StepFunctionsParserBackend._validate_definition


@functools.cache
def _validate_definition_once(definition: str) -> None:
    # functools.cache keeps only returns: a definition that raised InvalidDefinition is parsed again.
    _original_validate_definition(definition)


def apply() -> None:
    StepFunctionsParserBackend._validate_definition = staticmethod(_validate_definition_once)  # type: ignore[method-assign]
    ExecutionWorker.stop = _stop_when_settled  # type: ignore[method-assign]
    # Every DynamoDB request (Step Functions' own DynamoDB tasks too) is handled, answer included, here.
    if not is_serialised():
        DynamoHandler.call_action = _serialised(DynamoHandler.call_action)  # type: ignore[method-assign]


def is_serialised() -> bool:
    return getattr(DynamoHandler.call_action, "__flowport_serialised__", False)


def is_applied() -> bool:
    return (
        ExecutionWorker.stop is _stop_when_settled
        and is_serialised()
        and StepFunctionsParserBackend._validate_definition is _validate_definition_once
    )
