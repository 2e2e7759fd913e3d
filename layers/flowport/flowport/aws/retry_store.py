"""What retries write in the executions table (the RetryRecords port): a record's new attempt, and the
idempotency keys of retries (flowport.core.retry).

Items: a retry's key is `KEY#<sha256>` / `RETRY` (its hash names the caller, the execution and the key, so
it never meets a start's `KEY#…` / `KEY`). A key whose request was refused is expired at once rather than
deleted: expired items count as absent in every condition (flowport.aws.store), and the start function's
role then needs no DeleteItem.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from flowport.aws import queue
from flowport.aws.errors import error_code, transient_failures_as_unavailable
from flowport.aws.store import ExecutionStore, execution_pk, key_pk, of_attempt, plain_item, to_dynamo
from flowport.core.models import ExecutionRecord, ExecutionStatus
from flowport.core.ports import RetryKeyTaken
from flowport.core.retry import CLAIMABLE, RetryKeyRecord

# What the attempt before left on a record, which the new attempt does not have (yet).
_LAST_ATTEMPTS_END = ("completedAt", "#error", "outputJson", "outputInStepFunctions", "progress")


def retry_key_pk(key_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"KEY#{key_hash}"}, "sk": {"S": "RETRY"}}


def _key_item(key: RetryKeyRecord) -> dict[str, Any]:
    data = key.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {**retry_key_pk(key.key_hash), **{name: to_dynamo(value) for name, value in data.items()}}


class RetryStore(ExecutionStore):
    """The executions table, as retries and the sync function write a new attempt into it."""

    def restart(self, record: ExecutionRecord, from_attempt: int | None) -> bool:
        """One conditional write of the record, then its key's status (as finish mirrors it)."""
        # RUNNING, or QUEUED in its workflow's queue when no slot was free (flowport.usecases.admission).
        assert record.status is ExecutionStatus.RUNNING or record.waiting
        values: dict[str, Any] = {
            ":running": {"S": record.status.value},
            ":attempt": {"N": str(record.redrive_count)},
            ":expires": {"N": str(record.expires_at)},
        }
        queue_updates = ""
        if record.waiting:
            assert record.queue_order is not None
            assert record.queued_at is not None
            queue_updates = (
                f", {queue.PARTITION_KEY} = :workflow, {queue.SORT_KEY} = :order, queuedAt = :queuedAt"
            )
            values |= {
                ":workflow": {"S": record.workflow},
                ":order": {"S": record.queue_order},
                ":queuedAt": {"S": record.queued_at.isoformat()},
            }
        if from_attempt is None:
            condition = (
                "attribute_exists(pk) AND (attribute_not_exists(redriveCount) OR redriveCount < :attempt)"
            )
        else:
            statuses = {f":claimable{n}": {"S": status.value} for n, status in enumerate(sorted(CLAIMABLE))}
            values |= {":seen": {"N": str(from_attempt)}, **statuses}
            condition = f"#status IN ({', '.join(statuses)}) AND {of_attempt(from_attempt, ':seen')}"
        restarted = self._update(
            execution_pk(record.execution_id),
            f"SET #status = :running, redriveCount = :attempt, expiresAt = :expires{queue_updates} "
            f"REMOVE {', '.join(_LAST_ATTEMPTS_END)}, cancelRequestedAt, dispatchedAt",
            condition,
            values,
            names={"#status": "status", "#error": "error"},
        )
        if restarted and record.idempotency_key_hash:
            self._update(
                key_pk(record.idempotency_key_hash),
                "SET #status = :running, expiresAt = :expires",
                "executionId = :execution",
                {
                    ":running": values[":running"],
                    ":expires": values[":expires"],
                    ":execution": {"S": record.execution_id},
                },
                names={"#status": "status"},
            )
        return restarted

    def create_key(self, key: RetryKeyRecord, now: float, replaces_generation: int | None = None) -> None:
        if replaces_generation is None:
            condition = "attribute_not_exists(pk) OR expiresAt < :now"
            values = {":now": {"N": str(int(now))}}
        else:
            condition, values = "generation = :generation", {":generation": {"N": str(replaces_generation)}}
        with transient_failures_as_unavailable("DynamoDB"):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=_key_item(key),
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            except ClientError as error:
                if error_code(error) != "ConditionalCheckFailedException":
                    raise
                item = error.response.get("Item")
                existing = RetryKeyRecord.model_validate(plain_item(item)) if item else None  # type: ignore[arg-type]
                raise RetryKeyTaken(existing) from error

    def take_over_key(self, key: RetryKeyRecord, lease_until: float) -> bool:
        return self._update(
            retry_key_pk(key.key_hash),
            "SET leaseUntil = :lease",
            "leaseUntil = :previous AND generation = :generation",
            {
                ":lease": {"N": repr(lease_until)},
                ":previous": {"N": repr(key.lease_until)},
                ":generation": {"N": str(key.generation)},
            },
        )

    def release_key(self, key: RetryKeyRecord) -> None:
        self._update(
            retry_key_pk(key.key_hash),
            "SET expiresAt = :gone",
            "generation = :generation",
            {":gone": {"N": "0"}, ":generation": {"N": str(key.generation)}},
        )
