"""`flowport dev --state-dir`: the tables' items and Step Functions' executions, kept across restarts.

While the server runs, what changed is saved every SAVE_INTERVAL_SECONDS and once more at a graceful stop,
each file written atomically: a SIGKILL loses at most the last interval, and never leaves a torn file.
Step Functions is saved before the tables, so every saved execution has its record saved too (a record
is written before its execution starts).

At start, the executions are put back (flowport.local.executions_state): one that was running, or whose
start was under way, ended FAILED with error `local_restart` at the last save. Every record the save left
unfinished is then brought up to date with what Step Functions says of it, as reads do: so status,
history, stream, search, cancel and idempotency keys all say the same.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from flowport import services
from flowport.aws.live_views import VIEW_PREFIX
from flowport.aws.store import record_of
from flowport.core import inputs
from flowport.core.models import ExecutionError, ExecutionRecord, ExecutionStatus
from flowport.local import executions_state
from flowport.local.files import write_atomically
from flowport.local.template import LOCAL_REGION, Stack

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SAVE_INTERVAL_SECONDS = 1.0
_UNFINISHED = {ExecutionStatus.QUEUED.value, ExecutionStatus.RUNNING.value}


def _table_file(state_dir: Path, table_name: str) -> Path:
    return state_dir / f"dynamodb-{table_name}.json"


def _saved_at_file(state_dir: Path) -> Path:
    return state_dir / "saved-at.json"


@dataclass(frozen=True)
class Restored:
    items: int
    executions: set[str]
    """The ARNs of the executions put back into Step Functions."""
    ended: int
    """Executions that ran (or were starting) when the server stopped, ended by the restart."""


def load(state_dir: Path, stack: Stack) -> Restored:
    client = boto3.client("dynamodb", region_name=LOCAL_REGION)
    items = 0
    for table in stack.tables.values():
        source = _table_file(state_dir, table.name)
        if source.exists():
            for item in json.loads(source.read_text(encoding="utf-8")):
                client.put_item(TableName=table.name, Item=item)
                items += 1
    stopped_at = _stopped_at(state_dir)
    executions = executions_state.restore(state_dir, stopped_at)
    unfinished = [
        record
        for table in stack.tables.values()
        for item in _scan(client, table.name)
        if _is_unfinished(item) and (record := record_of(item, stopped_at.timestamp())) is not None
    ]
    for record in unfinished:
        if record.execution_arn not in executions:
            started = executions_state.never_saved(
                record.state_machine_arn,
                record.execution_id,
                inputs.serialize_input(record.input),
                record.created_at,
            )
            if executions_state.put_back(started.ended_by_restart(stopped_at)):
                executions[record.execution_arn] = True
        if record.execution_arn in executions:
            _settle(record.execution_id)
        else:
            _end_without_state_machine(record, stopped_at)
    ended = sum(executions.get(record.execution_arn, True) for record in unfinished)
    return Restored(items, set(executions), ended)


def _end_without_state_machine(record: ExecutionRecord, stopped_at: datetime) -> None:
    """End a record whose state machine the template no longer has: nothing but the record and the
    restart can say anything of it."""
    executions = services.live_executions()
    ended = record.model_copy(
        update={
            "status": ExecutionStatus.FAILED,
            "error": ExecutionError(
                code=executions_state.LOCAL_RESTART, message=executions_state.LOCAL_RESTART_CAUSE
            ),
            "completed_at": stopped_at,
        }
    )
    services.execution_store().finish(executions.with_retention(ended))


def _stopped_at(state_dir: Path) -> datetime:
    """When the server that saved this state was last seen running: its last save."""
    source = _saved_at_file(state_dir)
    if not source.exists():
        return datetime.now(UTC)
    return datetime.fromisoformat(json.loads(source.read_text(encoding="utf-8"))["savedAt"])


def _is_unfinished(item: dict[str, Any]) -> bool:
    return item.get("sk", {}).get("S") == "EXEC" and item.get("status", {}).get("S") in _UNFINISHED


class Saver:
    """Writes what changed since its last save: each execution's file, each table's, and the time."""

    def __init__(self, state_dir: Path, stack: Stack, restored: Restored) -> None:
        self._state_dir = state_dir
        self._stack = stack
        self._executions = executions_state.ExecutionSaver(state_dir, restored.executions)
        self._written: dict[str, bytes] = {}

    def save(self) -> int:
        """Save once; how many items the tables hold."""
        self._executions.save()
        client = boto3.client("dynamodb", region_name=LOCAL_REGION)
        saved = 0
        for table in self._stack.tables.values():
            # Live views are what Step Functions said a moment ago: they are read again after a restart.
            items = [item for item in _scan(client, table.name) if not _is_live_view(item)]
            encoded = json.dumps(items).encode()
            if self._written.get(table.name) != encoded:
                write_atomically(_table_file(self._state_dir, table.name), encoded)
                self._written[table.name] = encoded
            saved += len(items)
        # Taken once all is written, so that every execution and record saved started before it: the end a
        # restart gives what was running then is never before its start.
        saved_at = datetime.now(UTC)
        write_atomically(
            _saved_at_file(self._state_dir), json.dumps({"savedAt": saved_at.isoformat()}).encode()
        )
        return saved


@contextmanager
def kept(state_dir: Path, stack: Stack, interval: float = SAVE_INTERVAL_SECONDS) -> Iterator[Restored]:
    """The state restored, then saved every `interval` seconds while the block runs, and once at its end."""
    restored = load(state_dir, stack)
    saver = Saver(state_dir, stack, restored)
    stopping = threading.Event()

    def save_periodically() -> None:
        while not stopping.wait(interval):
            try:
                saver.save()
            except Exception as error:  # the next save may succeed; the server keeps serving meanwhile
                print(f"warning: saving state to {state_dir} failed: {error!r}", file=sys.stderr)

    thread = threading.Thread(target=save_periodically, name="flowport-state-saver", daemon=True)
    thread.start()
    try:
        yield restored
    finally:
        stopping.set()
        thread.join()
        print(f"saved {saver.save()} items to {state_dir}")


def _is_live_view(item: dict[str, Any]) -> bool:
    return str(item.get("pk", {}).get("S", "")).startswith(VIEW_PREFIX)


def _settle(execution_id: str) -> None:
    """Bring a record up to date with Step Functions, keeping the outcome once it has finished (on AWS
    the sync function does this from Step Functions' own events: a restored execution sends none)."""
    executions = services.live_executions()
    look = executions.look(execution_id, None)
    if look.record.status.is_terminal and not look.recorded:
        services.execution_store().finish(executions.with_retention(look.record))


def _scan(client: DynamoDBClient, table_name: str) -> list[dict[str, Any]]:
    # Local persistence may scan: it reads the whole table by design. Routes never do.
    return [
        dict(item)
        for page in client.get_paginator("scan").paginate(TableName=table_name)
        for item in page["Items"]
    ]
