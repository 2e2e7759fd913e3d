"""`flowport dev --state-dir`: the tables' items saved at shutdown and restored at start.

Step Functions' state is not kept: before saving, every unfinished execution is settled, so the records
of finished executions hold their outcome; executions still running when the server stops do not resume.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from flowport import services
from flowport.aws.live_views import VIEW_PREFIX
from flowport.core.models import ExecutionStatus
from flowport.local.template import LOCAL_REGION, Stack

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_UNFINISHED = {ExecutionStatus.QUEUED.value, ExecutionStatus.RUNNING.value}


def _table_file(state_dir: Path, table_name: str) -> Path:
    return state_dir / f"dynamodb-{table_name}.json"


def load(state_dir: Path, stack: Stack) -> int:
    client = boto3.client("dynamodb", region_name=LOCAL_REGION)
    restored = 0
    for table in stack.tables.values():
        source = _table_file(state_dir, table.name)
        if source.exists():
            for item in json.loads(source.read_text(encoding="utf-8")):
                client.put_item(TableName=table.name, Item=item)
                restored += 1
    return restored


def save(state_dir: Path, stack: Stack) -> int:
    client = boto3.client("dynamodb", region_name=LOCAL_REGION)
    state_dir.mkdir(parents=True, exist_ok=True)
    saved = 0
    for table in stack.tables.values():
        for item in _scan(client, table.name):
            if item.get("sk", {}).get("S") == "EXEC" and item.get("status", {}).get("S") in _UNFINISHED:
                settle(item["executionId"]["S"])
        # Live views are what Step Functions said a moment ago, and its state does not survive the restart.
        items = [item for item in _scan(client, table.name) if not _is_live_view(item)]
        _table_file(state_dir, table.name).write_text(json.dumps(items), encoding="utf-8")
        saved += len(items)
    return saved


def _is_live_view(item: dict[str, Any]) -> bool:
    return str(item.get("pk", {}).get("S", "")).startswith(VIEW_PREFIX)


def settle(execution_id: str) -> ExecutionStatus:
    """Bring a record up to date with Step Functions, keeping the outcome once it has finished (local
    mode only: on AWS the sync function does this from Step Functions' own events)."""
    executions = services.live_executions()
    look = executions.look(execution_id)
    if look.record.status.is_terminal and not look.recorded:
        services.execution_store().finish(executions.with_retention(look.record))
    return look.record.status


def _scan(client: DynamoDBClient, table_name: str) -> list[dict[str, Any]]:
    # Local persistence may scan: it reads the whole table by design. Routes never do.
    return [
        dict(item)
        for page in client.get_paginator("scan").paginate(TableName=table_name)
        for item in page["Items"]
    ]
