"""DynamoDB queue of each workflow's waiting executions: the WorkflowQueue port.

A waiting execution's record carries `queuedWorkflow` (its workflow) and `queueOrder`
(flowport.core.admission.queue_order) while it waits, and only then: the sparse `ByQueue` index over them
holds exactly the waiting executions, each workflow's in the order they run, so the next one is a Query
with `Limit=1`. Records leave the index when dispatched, cancelled or timed out (flowport.aws.store).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowport.aws.errors import transient_failures_as_unavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

QUEUE_INDEX = "ByQueue"
PARTITION_KEY = "queuedWorkflow"
SORT_KEY = "queueOrder"


class QueueIndex:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def head(self, workflow: str, count: int) -> list[str]:
        response = self._query(workflow, Limit=count)
        return [item[SORT_KEY]["S"] for item in response["Items"]]

    def ahead_of(self, workflow: str, queue_order: str) -> int:
        return sum(page["Count"] for page in self._pages(workflow, before=queue_order, Select="COUNT"))

    def length(self, workflow: str) -> int:
        return sum(page["Count"] for page in self._pages(workflow, Select="COUNT"))

    def orders(self, workflow: str) -> list[str]:
        return [item[SORT_KEY]["S"] for page in self._pages(workflow) for item in page["Items"]]

    def _pages(self, workflow: str, before: str | None = None, **arguments: Any) -> Any:
        while True:
            page = self._query(workflow, before, **arguments)
            yield page
            if "LastEvaluatedKey" not in page:
                return
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _query(self, workflow: str, before: str | None = None, **arguments: Any) -> Any:
        condition = "#workflow = :workflow"
        values: dict[str, Any] = {":workflow": {"S": workflow}}
        if before is not None:
            condition += " AND #order < :before"
            values[":before"] = {"S": before}
        with transient_failures_as_unavailable("DynamoDB"):
            return self._client.query(
                TableName=self._table,
                IndexName=QUEUE_INDEX,
                KeyConditionExpression=condition,
                ExpressionAttributeNames={"#workflow": PARTITION_KEY, "#order": SORT_KEY}
                if before is not None
                else {"#workflow": PARTITION_KEY},
                ExpressionAttributeValues=values,
                **arguments,
            )
