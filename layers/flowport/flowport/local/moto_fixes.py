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
- Memory and latency growing with every write: moto appends each model instance it ever makes (every
  DynamoDB item version, every table copy) to a class-level list, kept while the mock runs, for its
  dashboard (/moto-api/data.json, which local mode does not serve); and a TransactWriteItems deep-copies
  each table it names (once per action) to roll back on failure. A keyed start, one transaction, copied
  the whole table twice and kept both copies, each start costing more memory and time than the last (300
  took a server from 221 to 918 MB). Here models are not listed (those the backends hold stay), and a
  transaction keeps its tables and copies only the items it names, putting them back (and removing those
  it created) if it fails. Unlike moto's table copy, that leaves in a table's stream the records of writes
  a failed transaction undid (moto had already passed them to any Lambda reading the stream); flowport's
  table has no stream.
"""

from __future__ import annotations

import copy
import datetime
import functools
import threading
import time
import types
from collections.abc import Callable
from typing import Any

from moto.core.common_models import BaseModel
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
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


def _untracked_new(cls: type[BaseModel], *_args: Any, **_kwargs: Any) -> BaseModel:
    # moto's own __new__ without the append to cls.instances_tracked, a list nothing in local mode reads.
    instance: BaseModel = super(BaseModel, cls).__new__(cls)
    return instance


_original_transact_write_items = DynamoDBBackend.transact_write_items
# One item as it was before a transaction: its table, its key, and a copy of it (None: it did not exist).
_ItemBefore = tuple[Table, DynamoType, DynamoType | None, Item | None]


def _deepcopy_but_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
    # The table is moto's backup before a transaction: the same object is kept, and so moto's own
    # rollback (putting its backup back in place) keeps it too; _transact_write_items restores the items.
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


# Stands in for the copy module in moto's DynamoDB models while a transaction runs: deepcopy is all it uses.
_COPY_KEEPING_TABLES = types.SimpleNamespace(deepcopy=_deepcopy_but_tables)


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    with _request_lock:
        before = _items_before(self, transact_items)
        dynamodb_models.copy = _COPY_KEEPING_TABLES  # type: ignore[attr-defined,assignment]
        try:
            _original_transact_write_items(self, transact_items)
        except Exception:
            _restore(before)
            raise
        finally:
            dynamodb_models.copy = copy  # type: ignore[attr-defined]


def _items_before(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_ItemBefore]:
    before: list[_ItemBefore] = []
    for action in transact_items:
        for operation in action.values():
            table = backend.tables.get(operation.get("TableName"))
            if table is None:
                continue
            try:
                hash_key, range_key = backend.get_keys_value(table, operation.get("Key") or operation["Item"])
            except (KeyError, MockValidationException):
                continue  # an action without its key fails before it writes anything
            item = table.get_item(hash_key, range_key)
            # A copy: an Update changes the item in place.
            before.append((table, hash_key, range_key, copy.deepcopy(item)))
    return before


def _restore(before: list[_ItemBefore]) -> None:
    # Newest first, so that where two actions name one item (moto refuses the second) the oldest state wins.
    for table, hash_key, range_key, item in reversed(before):
        if range_key is None:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item  # type: ignore[assignment]
        elif item is None:
            table.items[hash_key].pop(range_key, None)
            if not table.items[hash_key]:
                del table.items[hash_key]
        else:
            table.items[hash_key][range_key] = item


def apply() -> None:
    BaseModel.__new__ = staticmethod(_untracked_new)  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
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
        and BaseModel.__new__ is _untracked_new
        and DynamoDBBackend.transact_write_items is _transact_write_items
        and is_serialised()
        and StepFunctionsParserBackend._validate_definition is _validate_definition_once
    )
