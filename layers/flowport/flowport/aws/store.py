"""DynamoDB store of execution records and idempotency keys (one table, `pk`/`sk` keys): the
ExecutionStore port.

Items: `EXEC#<executionId>` / `EXEC` is an execution; `EXEC#<executionId>` / `FIELD#<name>` points at it
from a searchable input field's value; `KEY#<sha256 of key>` / `KEY` is an idempotency key;
`LIVE#<executionId>` / `LIVE` is its live view (flowport.aws.live_views). Search indexes and their
attributes: flowport.core.index.
Inputs and outputs are kept as JSON text: DynamoDB maps cannot hold floats, empty keys or >32 levels.
Expired items (TTL passed, not yet deleted by DynamoDB) count as absent, in reads and in conditions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from flowport.aws import queue
from flowport.aws.batch import batch_get
from flowport.aws.errors import error_code, transient_failures_as_unavailable
from flowport.core import index
from flowport.core.errors import IdempotencyKeyInFlight
from flowport.core.identity import Reach
from flowport.core.models import MAX_RERUNS_NOTED, ExecutionRecord, ExecutionStatus, IdempotencyKeyRecord
from flowport.core.ports import CancelClaim, KeyTaken

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import PutTypeDef, TransactWriteItemTypeDef

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_JSON_FIELDS = {"input": "inputJson", "output": "outputJson"}
_ABSENT_OR_EXPIRED = "(attribute_not_exists(pk) OR expiresAt < :now)"
_ACTIVE = "#status IN (:queued, :running)"
# DynamoDB items stop at 400 KB; larger outputs stay in Step Functions only.
MAX_STORED_OUTPUT_BYTES = 300 * 1024
BATCH_GET_LIMIT = 100


def execution_pk(execution_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"EXEC#{execution_id}"}, "sk": {"S": "EXEC"}}


def key_pk(key_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"KEY#{key_hash}"}, "sk": {"S": "KEY"}}


def _record_item(record: ExecutionRecord) -> dict[str, Any]:
    # Only records carry the indexes' sort key: idempotency keys, which also hold a workflow and a status,
    # stay out of every index.
    item = {
        **_to_item(record, execution_pk(record.execution_id)),
        index.SORT_KEY: {"S": index.created_key(record.created_at, record.execution_id)},
        index.DAY_KEY: {"S": index.created_day(record.created_at)},
    }
    if record.waiting:  # the queue index's partition: present while it waits, as queueOrder is
        item[queue.PARTITION_KEY] = {"S": record.workflow}
    return item


def _pointer_item(record: ExecutionRecord, field: str, search_key: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"EXEC#{record.execution_id}"},
        "sk": {"S": index.pointer_sort_key(field)},
        index.Index.BY_INPUT_FIELD.partition_key: {"S": search_key},
        index.SORT_KEY: {"S": index.created_key(record.created_at, record.execution_id)},
        # The record's first expiry, its latest: a pointer may outlive its record, never the reverse.
        "expiresAt": {"N": str(record.expires_at)},
    }


def to_dynamo(value: Any) -> dict[str, Any]:
    # Floats must reach DynamoDB as Decimals.
    return dict(_serializer.serialize(json.loads(json.dumps(value), parse_float=Decimal)))


def _to_item(model: ExecutionRecord | IdempotencyKeyRecord, keys: dict[str, Any]) -> dict[str, Any]:
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    for field, attribute in _JSON_FIELDS.items():
        if field in data:
            data[attribute] = json.dumps(data.pop(field), separators=(",", ":"), ensure_ascii=False)
    return {**keys, **{name: to_dynamo(value) for name, value in data.items()}}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):  # a string or number set, written by a workflow's own DynamoDB step
        return sorted(_plain(v) for v in value)
    return value


def plain_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item's attributes as plain JSON values (whole-number Decimals as ints)."""
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}


def _from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    data = plain_item(item)
    for field, attribute in _JSON_FIELDS.items():
        if attribute in data:
            data[field] = json.loads(data.pop(attribute))
    return data


def record_of(item: Mapping[str, Any] | None, now: float) -> ExecutionRecord | None:
    """The record an item holds; None for no item, or one whose TTL has passed (DynamoDB deletes expired
    items up to 48 hours late)."""
    if item is None or "executionId" not in item or int(item["expiresAt"]["N"]) < now:
        return None
    return ExecutionRecord.model_validate(_from_item(dict(item)))


def of_attempt(attempt: int, value: str = ":attempt") -> str:
    """The condition that a record is of this attempt (flowport.core.retry), the placeholder `value`
    holding it: records written before retries existed have no redriveCount, and are first runs."""
    if attempt == 0:
        return f"(attribute_not_exists(redriveCount) OR redriveCount = {value})"
    return f"redriveCount = {value}"


def _status_values() -> dict[str, Any]:
    return {":queued": {"S": ExecutionStatus.QUEUED}, ":running": {"S": ExecutionStatus.RUNNING}}


class ExecutionStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def create(
        self,
        record: ExecutionRecord,
        key: IdempotencyKeyRecord | None,
        now: float,
        replaces_generation: int | None = None,
        search_keys: Mapping[str, str] | None = None,
    ) -> None:
        """Write a new execution, its key if any and its pointers (field -> search key) at once, in one
        call. Raises KeyTaken if the key is not free."""
        record_put: PutTypeDef = {
            "TableName": self._table,
            "Item": _record_item(record),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        pointer_puts: list[TransactWriteItemTypeDef] = [
            {"Put": {"TableName": self._table, "Item": _pointer_item(record, field, search_key)}}
            for field, search_key in (search_keys or {}).items()
        ]
        with transient_failures_as_unavailable("DynamoDB"):
            if key is None:
                if pointer_puts:
                    self._client.transact_write_items(TransactItems=[{"Put": record_put}, *pointer_puts])
                else:
                    self._client.put_item(**record_put)
                return
            if replaces_generation is None:
                condition = _ABSENT_OR_EXPIRED
                values: dict[str, Any] = {":now": {"N": str(int(now))}}
            else:
                condition = "generation = :generation"
                values = {":generation": {"N": str(replaces_generation)}}
            items: list[TransactWriteItemTypeDef] = [
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _to_item(key, key_pk(key.key_hash)),
                        "ConditionExpression": condition,
                        "ExpressionAttributeValues": values,
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
                {"Put": record_put},
                *pointer_puts,
            ]
            try:
                self._client.transact_write_items(TransactItems=items)
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                self._raise_key_taken(error)

    @staticmethod
    def _raise_key_taken(error: ClientError) -> None:
        reasons = error.response.get("CancellationReasons", [])
        key_reason = reasons[0] if reasons else {}
        if key_reason.get("Code") == "ConditionalCheckFailed":
            item = key_reason.get("Item")
            raise KeyTaken(IdempotencyKeyRecord.model_validate(_from_item(item)) if item else None) from error
        if any(reason.get("Code") == "TransactionConflict" for reason in reasons):
            # Another request is writing this very key right now.
            raise IdempotencyKeyInFlight(
                "Another request with this idempotency key is being processed; retry shortly"
            ) from error
        raise error

    def get(self, execution_id: str, now: float) -> ExecutionRecord | None:
        with transient_failures_as_unavailable("DynamoDB"):
            response = self._client.get_item(TableName=self._table, Key=execution_pk(execution_id))
        return record_of(response.get("Item"), now)

    def get_many(self, execution_ids: Sequence[str], now: float) -> dict[str, ExecutionRecord]:
        found: dict[str, ExecutionRecord] = {}
        for first in range(0, len(execution_ids), BATCH_GET_LIMIT):
            keys = [
                execution_pk(execution_id) for execution_id in execution_ids[first : first + BATCH_GET_LIMIT]
            ]
            for item in batch_get(self._client, self._table, {"Keys": keys}):
                record = record_of(item, now)
                if record is not None:
                    found[record.execution_id] = record
        return found

    def take_over_start(self, key: IdempotencyKeyRecord, lease_until: float) -> bool:
        """Claim the right to start a key's execution whose first request gave up. One claimant wins."""
        return self._update(
            key_pk(key.key_hash),
            "SET leaseUntil = :lease",
            "leaseUntil = :previous AND executionId = :execution",
            {
                ":lease": {"N": repr(lease_until)},
                ":previous": {"N": repr(key.lease_until)},
                ":execution": {"S": key.execution_id},
            },
        )

    def release_start(self, key_hash: str, execution_id: str) -> bool:
        """Let the next request with this key start the execution at once (this one failed to)."""
        return self._update(
            key_pk(key_hash),
            "SET leaseUntil = :zero",
            "executionId = :execution",
            {":zero": {"N": "0"}, ":execution": {"S": execution_id}},
        )

    def claim_cancel(self, execution_id: str, now: datetime, reach: Reach) -> CancelClaim:
        """Claim the execution's cancellation, in one conditional write that returns the record whether it
        wins (as it is now) or not (as it stopped the claim). Exactly one of any number of callers wins,
        and only one whose `reach` takes the execution in."""
        conditions = [
            "attribute_exists(pk)",
            "attribute_not_exists(cancelRequestedAt)",
            _ACTIVE,
            "expiresAt >= :epoch",
        ]
        names = {"#status": "status"}
        values: dict[str, Any] = {
            ":now": {"S": now.isoformat()},
            ":epoch": {"N": str(int(now.timestamp()))},
            **_status_values(),
        }
        if reach.workflows is not None:
            placeholders = [f":workflow{number}" for number in range(len(reach.workflows))]
            conditions.append(f"#workflow IN ({', '.join(placeholders)})")
            names["#workflow"] = "workflow"
            values.update({p: {"S": name} for p, name in zip(placeholders, reach.workflows, strict=True)})
        if reach.started_by is not None:
            conditions.append("startedBy = :startedBy")
            values[":startedBy"] = {"S": reach.started_by}
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "Key": execution_pk(execution_id),
            "UpdateExpression": "SET cancelRequestedAt = :now",
            "ConditionExpression": " AND ".join(conditions),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
        with transient_failures_as_unavailable("DynamoDB"):
            try:
                response = self._client.update_item(**arguments)
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                found: Mapping[str, Any] | None = error.response.get("Item")  # type: ignore[assignment]
                return CancelClaim(False, record_of(found, now.timestamp()))
        return CancelClaim(True, record_of(response.get("Attributes"), now.timestamp()))

    def withdraw_cancel(self, execution_id: str) -> bool:
        return self._update(
            execution_pk(execution_id), "REMOVE cancelRequestedAt", "attribute_exists(pk)", None
        )

    def finish(self, record: ExecutionRecord, after_cancel: bool = False) -> bool:
        """Write a finished execution's outcome, and mirror its status onto its key. A finished record is
        never changed again, so late or repeated writers cannot move it backwards; `after_cancel`: but
        for a CANCELLED one whose execution ended another way before the stop reached it. Only a record
        of the same attempt is written: a late writer of an earlier attempt finds a retried record."""
        if after_cancel:
            return self._finish(
                record, "#status = :cancelled", {":cancelled": {"S": ExecutionStatus.CANCELLED}}
            )
        return self._finish(record, _ACTIVE, _status_values())

    def finish_waiting(self, record: ExecutionRecord, queue_order: str) -> bool:
        condition = "queueOrder = :order AND attribute_not_exists(cancelRequestedAt)"
        return self._finish(record, condition, {":order": {"S": queue_order}})

    def _finish(self, record: ExecutionRecord, condition: str, condition_values: dict[str, Any]) -> bool:
        assert record.status.is_terminal
        values = {
            ":status": {"S": record.status.value},
            ":expires": {"N": str(record.expires_at)},
            ":attempt": {"N": str(record.redrive_count)},
            **condition_values,
        }
        updates = ["#status = :status", "expiresAt = :expires"]
        for name, value in (("completedAt", record.completed_at), ("startedAt", record.started_at)):
            if value is not None:
                updates.append(f"{name} = :{name}")
                values[f":{name}"] = {"S": value.isoformat()}
        if record.error is not None:
            updates.append("#error = :error")
            values[":error"] = to_dynamo(record.error.model_dump())
        if record.progress is not None:
            updates.append("progress = :progress")
            values[":progress"] = to_dynamo(record.progress.model_dump(by_alias=True))
        if record.output is not None:
            output_json = json.dumps(record.output, separators=(",", ":"), ensure_ascii=False)
            if len(output_json.encode()) <= MAX_STORED_OUTPUT_BYTES:
                updates.append("outputJson = :output")
                values[":output"] = {"S": output_json}
            else:
                updates.append("outputInStepFunctions = :true")
                values[":true"] = {"BOOL": True}
        # A finished execution leaves its queue, whether it waited there or not.
        finished = self._update(
            execution_pk(record.execution_id),
            "SET " + ", ".join(updates) + f" REMOVE {queue.PARTITION_KEY}, {queue.SORT_KEY}",
            f"attribute_exists(pk) AND {condition} AND {of_attempt(record.redrive_count)}",
            values,
            names={"#status": "status", **({"#error": "error"} if ":error" in values else {})},
        )
        if finished and record.idempotency_key_hash:
            self._update(
                key_pk(record.idempotency_key_hash),
                "SET #status = :status, expiresAt = :expires",
                "executionId = :execution",
                {
                    ":status": {"S": record.status.value},
                    ":expires": {"N": str(record.expires_at)},
                    ":execution": {"S": record.execution_id},
                },
                names={"#status": "status"},
            )
        return finished

    def enqueue(self, record: ExecutionRecord) -> bool:
        assert record.queue_order is not None
        assert record.queued_at is not None
        return self._update(
            execution_pk(record.execution_id),
            f"SET {queue.PARTITION_KEY} = :workflow, {queue.SORT_KEY} = :order, queuedAt = :queuedAt, "
            "expiresAt = :expires",
            "#status = :queued AND attribute_not_exists(cancelRequestedAt) "
            f"AND attribute_not_exists({queue.SORT_KEY}) AND attribute_not_exists(dispatchedAt)",
            {
                ":workflow": {"S": record.workflow},
                ":order": {"S": record.queue_order},
                ":queuedAt": {"S": record.queued_at.isoformat()},
                ":expires": {"N": str(record.expires_at)},
                ":queued": {"S": ExecutionStatus.QUEUED},
            },
            names={"#status": "status"},
        )

    def claim_dispatch(self, execution_id: str, queue_order: str, now: datetime) -> ExecutionRecord | None:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "Key": execution_pk(execution_id),
            "UpdateExpression": f"SET dispatchedAt = :now REMOVE {queue.PARTITION_KEY}, {queue.SORT_KEY}",
            "ConditionExpression": "queueOrder = :order AND #status = :queued "
            "AND attribute_not_exists(cancelRequestedAt)",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":now": {"S": now.isoformat()},
                ":order": {"S": queue_order},
                ":queued": {"S": ExecutionStatus.QUEUED},
            },
            "ReturnValues": "ALL_NEW",
        }
        with transient_failures_as_unavailable("DynamoDB"):
            try:
                response = self._client.update_item(**arguments)
            except ClientError as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    return None
                raise
        return record_of(response.get("Attributes"), now.timestamp())

    def mark_running(self, record: ExecutionRecord) -> bool:
        """Record that Step Functions runs the execution (only a QUEUED record moves), on its key too."""
        values: dict[str, Any] = {
            ":queued": {"S": ExecutionStatus.QUEUED},
            ":running": {"S": ExecutionStatus.RUNNING},
        }
        updates = "SET #status = :running"
        if record.started_at is not None:
            updates += ", startedAt = :started"
            values[":started"] = {"S": record.started_at.isoformat()}
        moved = self._update(
            execution_pk(record.execution_id),
            updates,
            "#status = :queued",
            values,
            names={"#status": "status"},
        )
        if moved and record.idempotency_key_hash:
            self._update(
                key_pk(record.idempotency_key_hash),
                "SET #status = :running",
                "#status = :queued AND executionId = :execution",
                {
                    ":queued": values[":queued"],
                    ":running": values[":running"],
                    ":execution": {"S": record.execution_id},
                },
                names={"#status": "status"},
            )
        return moved

    def note_rerun(self, execution_id: str, rerun_id: str) -> bool:
        return self._update(
            execution_pk(execution_id),
            "SET reruns = list_append(if_not_exists(reruns, :none), :rerun)",
            "attribute_exists(pk) AND (attribute_not_exists(reruns) OR "
            "(NOT contains(reruns, :id) AND size(reruns) < :most))",
            {
                ":none": {"L": []},
                ":rerun": {"L": [{"S": rerun_id}]},
                ":id": {"S": rerun_id},
                ":most": {"N": str(MAX_RERUNS_NOTED)},
            },
        )

    def _update(
        self,
        key: dict[str, Any],
        update: str,
        condition: str,
        values: dict[str, Any] | None,
        names: dict[str, str] | None = None,
    ) -> bool:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "Key": key,
            "UpdateExpression": update,
            "ConditionExpression": condition,
        }
        if values:
            arguments["ExpressionAttributeValues"] = values
        if names:
            arguments["ExpressionAttributeNames"] = names
        with transient_failures_as_unavailable("DynamoDB"):
            try:
                self._client.update_item(**arguments)
            except ClientError as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    return False
                raise
        return True
