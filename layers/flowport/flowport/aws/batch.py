"""BatchGetItem with its unprocessed keys asked for again: DynamoDB may leave some when throttled."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flowport.aws.errors import transient_failures_as_unavailable
from flowport.core.errors import ServiceUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_GET_ATTEMPTS = 4
_BACKOFF_SECONDS = 0.05


def batch_get(client: DynamoDBClient, table: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item `request` (one table's part of a BatchGetItem) asks for that exists, in any order;
    ServiceUnavailable if some are still unprocessed after a few attempts."""
    pending: dict[str, Any] = {table: request}
    items: list[dict[str, Any]] = []
    for attempt in range(BATCH_GET_ATTEMPTS):
        if attempt:
            time.sleep(_BACKOFF_SECONDS * 2**attempt)
        with transient_failures_as_unavailable("DynamoDB"):
            response = client.batch_get_item(RequestItems=pending)
        items.extend(dict(item) for item in response.get("Responses", {}).get(table, []))
        pending = dict(response.get("UnprocessedKeys") or {})
        if not pending:
            return items
    raise ServiceUnavailable("DynamoDB is busy; retry shortly", retry_after_seconds=2)
