"""Live views in DynamoDB, beside the records: the LiveViewStore port.

Item `LIVE#<executionId>` / `LIVE`: `view` (the LiveView as zlib-compressed JSON: a page of node events
compresses about tenfold), `observedAt`, `final`, `redriveCount` (the attempt it saw; absent: the first
run), `claimUntil` while a reader refreshes it, and the record's `expiresAt`. Its partition key prefix is
what lets the read-only status and stream functions write it, and nothing else (template.yaml: a
`dynamodb:LeadingKeys` condition).
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from flowport.aws.batch import batch_get
from flowport.aws.errors import error_code, transient_failures_as_unavailable
from flowport.aws.store import execution_pk, record_of
from flowport.core import live
from flowport.core.models import ExecutionRecord, LiveView

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

VIEW_PREFIX = "LIVE#"
# A claim's item, before its first view: kept a day at most.
_CLAIM_ONLY_SECONDS = 24 * 3600
_NOT_FINAL = "(attribute_not_exists(#final) OR #final = :false)"


def _or_of_an_earlier_attempt(condition: str, attempt: int) -> str:
    """`condition`, or the item's view is of an attempt before `attempt` (`:attempt`): a view of a retried
    execution's earlier attempt is stale, final or not."""
    if attempt == 0:
        return condition
    return f"({condition} OR attribute_not_exists(redriveCount) OR redriveCount < :attempt)"


def _attempt_value(attempt: int) -> dict[str, Any]:
    return {":attempt": {"N": str(attempt)}} if attempt else {}


def view_key(execution_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{VIEW_PREFIX}{execution_id}"}, "sk": {"S": "LIVE"}}


def _encode(view: LiveView) -> bytes:
    return zlib.compress(view.model_dump_json(by_alias=True).encode())


def _view_of(item: dict[str, Any] | None, now: float) -> LiveView | None:
    if item is None or "view" not in item or int(item["expiresAt"]["N"]) < now:
        return None
    return LiveView.model_validate_json(zlib.decompress(item["view"]["B"]))


class DynamoLiveViews:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def read(
        self, execution_id: str, now: float, finished_view: bool = False
    ) -> tuple[ExecutionRecord | None, LiveView | None]:
        """Both items in one BatchGetItem (eventually consistent, as every status read). A finished
        record's view is decoded only when asked for: a status read does not need it."""
        record_key, live_key = execution_pk(execution_id), view_key(execution_id)
        found = {
            item["pk"]["S"]: item
            for item in batch_get(self._client, self._table, {"Keys": [record_key, live_key]})
        }
        record = record_of(found.get(record_key["pk"]["S"]), now)
        if record is None or (record.status.is_terminal and not finished_view):
            return record, None
        return record, _view_of(found.get(live_key["pk"]["S"]), now)

    def claim_refresh(
        self, execution_id: str, now: float, stale_before: float, claim_seconds: float, attempt: int = 0
    ) -> bool:
        stale = _or_of_an_earlier_attempt(
            f"((attribute_not_exists(observedAt) OR observedAt <= :staleBefore) AND {_NOT_FINAL})", attempt
        )
        values = {
            ":until": {"N": repr(now + claim_seconds)},
            ":expires": {"N": str(int(now) + _CLAIM_ONLY_SECONDS)},
            ":staleBefore": {"N": repr(stale_before)},
            ":now": {"N": repr(now)},
            ":false": {"BOOL": False},
            **_attempt_value(attempt),
        }
        try:
            with transient_failures_as_unavailable("DynamoDB"):
                self._client.update_item(
                    TableName=self._table,
                    Key=view_key(execution_id),
                    UpdateExpression="SET claimUntil = :until, "
                    "expiresAt = if_not_exists(expiresAt, :expires)",
                    ConditionExpression=f"{stale} AND "
                    "(attribute_not_exists(claimUntil) OR claimUntil < :now)",
                    ExpressionAttributeNames={"#final": "final"},
                    ExpressionAttributeValues=values,
                )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def put(self, execution_id: str, view: LiveView, expires_at: int) -> None:
        """Never over a final view of the same attempt: a refresh that read the history before its end may
        land after the sync function kept the final one."""
        view = live.fitted(view, lambda candidate: len(_encode(candidate)))
        attempt = view.redrive_count
        try:
            with transient_failures_as_unavailable("DynamoDB"):
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        **view_key(execution_id),
                        "view": {"B": _encode(view)},
                        "observedAt": {"N": repr(view.observed_at)},
                        "final": {"BOOL": view.final},
                        "redriveCount": {"N": str(attempt)},
                        "expiresAt": {"N": str(expires_at)},
                    },
                    ConditionExpression=_or_of_an_earlier_attempt(_NOT_FINAL, attempt),
                    ExpressionAttributeNames={"#final": "final"},
                    ExpressionAttributeValues={
                        ":false": {"BOOL": False},
                        **_attempt_value(attempt),
                    },
                )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
