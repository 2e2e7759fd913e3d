"""DynamoDB slots of each workflow: the SlotStore port (rules: flowport.core.admission).

One item per workflow, `SLOTS#<workflow>` / `SLOTS`: a `running` counter and one attribute per holder,
`holder#<executionId>` = `{attempt, since}`. Each take, release and hand-over changes the counter and a
holder in one conditional UpdateItem, so the two never disagree, a release happens once per attempt
whichever end event arrives twice or late (aws-samples' app-control-concurrency-with-dynamodb pattern),
and any number of racing takes hand out at most `limit` slots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from flowport.aws.errors import error_code, transient_failures_as_unavailable
from flowport.core.admission import Hold, Holder
from flowport.core.ports import Slots

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

HOLDER_PREFIX = "holder#"
LEADING_KEY_PREFIX = "SLOTS#"


def slots_key(workflow: str) -> dict[str, Any]:
    return {"pk": {"S": f"{LEADING_KEY_PREFIX}{workflow}"}, "sk": {"S": "SLOTS"}}


def _holding(holder: Holder) -> dict[str, Any]:
    return {"M": {"attempt": {"N": str(holder.attempt)}, "since": {"N": repr(holder.since)}}}


class SlotStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def take(self, workflow: str, holder: Holder, limit: int | None) -> Hold:
        condition = "attribute_not_exists(#holder)"
        values: dict[str, Any] = {":one": {"N": "1"}, ":holding": _holding(holder)}
        if limit is not None:
            condition += " AND (attribute_not_exists(running) OR running < :limit)"
            values[":limit"] = {"N": str(limit)}
        found = self._update(
            workflow,
            "ADD running :one SET #holder = :holding",
            condition,
            {"#holder": HOLDER_PREFIX + holder.execution_id},
            values,
        )
        if found is None:
            return Hold.TAKEN
        # Refused: full, unless this very attempt holds a slot already (a retried take).
        held = found.get(HOLDER_PREFIX + holder.execution_id)
        if held is not None and int(held["M"]["attempt"]["N"]) == holder.attempt:
            return Hold.HELD
        return Hold.REFUSED

    def release(self, workflow: str, execution_id: str, attempt: int) -> bool:
        return (
            self._update(
                workflow,
                "ADD running :minus_one REMOVE #holder",
                "#holder.attempt = :attempt",
                {"#holder": HOLDER_PREFIX + execution_id},
                {":minus_one": {"N": "-1"}, ":attempt": {"N": str(attempt)}},
            )
            is None
        )

    def hand_over(self, workflow: str, freed: Holder, successor: Holder) -> bool:
        return (
            self._update(
                workflow,
                "REMOVE #freed SET #successor = :holding",
                "#freed.attempt = :attempt AND attribute_not_exists(#successor)",
                {
                    "#freed": HOLDER_PREFIX + freed.execution_id,
                    "#successor": HOLDER_PREFIX + successor.execution_id,
                },
                {":attempt": {"N": str(freed.attempt)}, ":holding": _holding(successor)},
            )
            is None
        )

    def renew(self, workflow: str, holder: Holder, from_attempt: int) -> bool:
        return (
            self._update(
                workflow,
                "SET #holder = :holding",
                "#holder.attempt = :previous",
                {"#holder": HOLDER_PREFIX + holder.execution_id},
                {":holding": _holding(holder), ":previous": {"N": str(from_attempt)}},
            )
            is None
        )

    def read(self, workflow: str) -> Slots:
        with transient_failures_as_unavailable("DynamoDB"):
            item = self._client.get_item(
                TableName=self._table, Key=slots_key(workflow), ConsistentRead=True
            ).get("Item", {})
        holders = tuple(
            Holder(
                name[len(HOLDER_PREFIX) :], int(value["M"]["attempt"]["N"]), float(value["M"]["since"]["N"])
            )
            for name, value in item.items()
            if name.startswith(HOLDER_PREFIX)
        )
        return Slots(tuple(sorted(holders, key=lambda holder: holder.since)))

    def _update(
        self, workflow: str, update: str, condition: str, names: dict[str, str], values: dict[str, Any]
    ) -> dict[str, Any] | None:
        """None when the write was made; the item as it stopped the write otherwise."""
        with transient_failures_as_unavailable("DynamoDB"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=slots_key(workflow),
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                found: dict[str, Any] = error.response.get("Item", {})  # type: ignore[assignment]
                return found
        return None
