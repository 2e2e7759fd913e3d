"""The SearchIndex port, the reads of GET /executions: Queries on the table's indexes, as
flowport.core.search describes them, and one BatchGetItem to turn input-field pointers into their
executions. Never a Scan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowport.aws.batch import batch_get
from flowport.aws.errors import transient_failures_as_unavailable
from flowport.aws.store import execution_pk
from flowport.core import index, search, status
from flowport.core.models import ExecutionSummary
from flowport.core.ports import PointerPage, SummaryPage

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_LISTED_NAMES = {f"#a{number}": name for number, name in enumerate(index.LISTED_ATTRIBUTES)}


def _summary(item: Mapping[str, Any]) -> ExecutionSummary:
    execution_id = item["executionId"]["S"]
    return ExecutionSummary(
        execution_id=execution_id,
        workflow=item["workflow"]["S"],
        version=int(item["version"]["N"]),
        status=item["status"]["S"],
        correlation_id=item.get("correlationId", {}).get("S"),
        priority=int(item["priority"]["N"]),
        created_at=item["createdAt"]["S"],
        started_by=item.get("startedBy", {}).get("S"),
        links=status.links(execution_id),
    )


class SearchStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def summaries(self, spec: search.QuerySpec, limit: int) -> SummaryPage:
        """One Query of a record index: the summaries come from what the index projects."""
        items, after = self._query(spec, limit)
        return SummaryPage([_summary(item) for item in items], after)

    def pointers(self, spec: search.QuerySpec, limit: int) -> PointerPage:
        """One Query of the input-field index: the ids of the executions its pointers name."""
        items, after = self._query(spec, limit)
        return PointerPage([item["pk"]["S"].removeprefix("EXEC#") for item in items], after)

    def _query(self, spec: search.QuerySpec, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": spec.index.value,
            "KeyConditionExpression": spec.key_condition,
            "ExpressionAttributeNames": spec.names,
            "ExpressionAttributeValues": spec.values,
            "ScanIndexForward": False,  # newest first
            "Limit": limit,
        }
        if spec.filter is not None:
            arguments["FilterExpression"] = spec.filter
        if spec.start_key is not None:
            arguments["ExclusiveStartKey"] = spec.start_key
        with transient_failures_as_unavailable("DynamoDB"):
            response = self._client.query(**arguments)
        last_key = response.get("LastEvaluatedKey")
        after = str(last_key[index.SORT_KEY]["S"]) if last_key else None
        return [dict(item) for item in response.get("Items", [])], after

    def executions(self, execution_ids: Sequence[str], now: datetime) -> list[ExecutionSummary]:
        """The summaries of these executions, in this order, in one BatchGetItem (at most 100 ids);
        executions whose record is gone or expired are left out."""
        assert len(execution_ids) <= search.MAX_LIMIT
        if not execution_ids:
            return []
        request = {
            "Keys": [execution_pk(execution_id) for execution_id in execution_ids],
            "ProjectionExpression": ", ".join(_LISTED_NAMES),
            "ExpressionAttributeNames": _LISTED_NAMES,
        }
        live = [
            _summary(item)
            for item in batch_get(self._client, self._table, request)
            if int(item["expiresAt"]["N"]) >= now.timestamp()
        ]
        found = {summary.execution_id: summary for summary in live}
        return [found[execution_id] for execution_id in execution_ids if execution_id in found]
