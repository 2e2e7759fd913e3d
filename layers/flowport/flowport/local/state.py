"""`flowport dev --state-dir`: the tables' items saved at shutdown and restored at start.

Step Functions' state is not kept: before saving, every unfinished execution is settled, so the records
of finished executions hold their outcome; executions still running when the server stops do not resume.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from flowport.local.template import LOCAL_REGION, Stack
from flowport.models import ExecutionStatus
from flowport.services import execution_service

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
                execution_service().settle(item["executionId"]["S"])
        items = _scan(client, table.name)
        _table_file(state_dir, table.name).write_text(json.dumps(items), encoding="utf-8")
        saved += len(items)
    return saved


def _scan(client: DynamoDBClient, table_name: str) -> list[dict[str, Any]]:
    # Local persistence may scan: it reads the whole table by design. Routes never do.
    return [
        dict(item)
        for page in client.get_paginator("scan").paginate(TableName=table_name)
        for item in page["Items"]
    ]
