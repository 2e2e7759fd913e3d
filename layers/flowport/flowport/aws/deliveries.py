"""Webhook secrets and delivery logs in the executions table, and the delivery queue on SQS.

Items: `WHSEC#<principal>` / `WHSEC` holds a principal's signing secrets; `DELIVERY#<executionId>` /
`<messageId>` one message's delivery log (its attempts, never its body). The table's encryption at rest
(SSE with the AWS owned key, template.yaml) is what encrypts the secrets: no other copy of them exists,
and only the functions that sign, check or rotate them may read those items (their IAM conditions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from flowport.aws.batch import batch_get
from flowport.aws.errors import error_code, transient_failures_as_unavailable
from flowport.aws.store import execution_pk, plain_item, to_dynamo
from flowport.core.models import DeliveryLog, DeliveryState
from flowport.core.webhooks import DeliveryMessage, WebhookSecrets

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

SECRETS_PREFIX = "WHSEC#"
# The secrets' items, as IAM conditions name them: the admin function alone writes them.
SECRETS_LEADING_KEY = f"{SECRETS_PREFIX}*"
DELIVERY_PREFIX = "DELIVERY#"


def secrets_key(owner: str) -> dict[str, Any]:
    return {"pk": {"S": f"{SECRETS_PREFIX}{owner}"}, "sk": {"S": "WHSEC"}}


def _log_key(execution_id: str, message_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"{DELIVERY_PREFIX}{execution_id}"}, "sk": {"S": message_id}}


def _item(model: WebhookSecrets | DeliveryLog) -> dict[str, Any]:
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {name: to_dynamo(value) for name, value in data.items()}


class DeliveryStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def secrets(self, owner: str) -> WebhookSecrets | None:
        with transient_failures_as_unavailable("DynamoDB"):
            item = self._client.get_item(TableName=self._table, Key=secrets_key(owner)).get("Item")
        return WebhookSecrets.model_validate(plain_item(item)) if item else None

    def callback_hosts(self, owner: str) -> tuple[str, ...] | None:
        # Only these attributes: the start and conductor functions may read no other of a secrets item
        # (template.yaml, their ReadCallbackHosts statements).
        with transient_failures_as_unavailable("DynamoDB"):
            item = self._client.get_item(
                TableName=self._table,
                Key=secrets_key(owner),
                ProjectionExpression="pk, callbackHosts",
            ).get("Item")
        if item is None:
            return None
        return tuple(plain_item(item).get("callbackHosts", ()))

    def save(self, secrets: WebhookSecrets) -> None:
        with transient_failures_as_unavailable("DynamoDB"):
            self._client.put_item(
                TableName=self._table, Item={**secrets_key(secrets.owner), **_item(secrets)}
            )

    def pending(
        self, execution_id: str, message_id: str, owner: str
    ) -> tuple[DeliveryLog | None, WebhookSecrets | None]:
        keys = [_log_key(execution_id, message_id), secrets_key(owner)]
        log, secrets = None, None
        for item in batch_get(self._client, self._table, {"Keys": keys}):
            found = plain_item(item)
            if found["pk"].startswith(SECRETS_PREFIX):
                secrets = WebhookSecrets.model_validate(found)
            else:
                log = DeliveryLog.model_validate(found)
        return log, secrets

    def record(self, log: DeliveryLog) -> bool:
        (attempt,) = log.attempts
        values: dict[str, Any] = {
            ":type": {"S": log.type},
            ":url": {"S": log.url},
            ":state": {"S": log.state.value},
            ":count": {"N": str(log.attempt_count)},
            ":attempt": {"L": [to_dynamo(attempt.model_dump(mode="json", by_alias=True, exclude_none=True))]},
            ":none": {"L": []},
            ":expires": {"N": str(log.expires_at)},
            ":execution": {"S": log.execution_id},
            ":message": {"S": log.message_id},
        }
        updates = [
            "executionId = :execution",
            "messageId = :message",
            "#type = :type",
            "#url = :url",
            "#state = :state",
            "attemptCount = :count",
            "attempts = list_append(if_not_exists(attempts, :none), :attempt)",
            "expiresAt = :expires",
        ]
        if log.next_attempt_at is not None:
            updates.append("nextAttemptAt = :next")
            values[":next"] = {"S": log.next_attempt_at.isoformat()}
        if log.attempt_count == 1:
            condition = "attribute_not_exists(pk)"
        else:
            condition = "attemptCount = :before"
            values[":before"] = {"N": str(log.attempt_count - 1)}
        tail = "" if log.next_attempt_at is not None else " REMOVE nextAttemptAt"
        try:
            with transient_failures_as_unavailable("DynamoDB"):
                self._client.update_item(
                    TableName=self._table,
                    Key=_log_key(log.execution_id, log.message_id),
                    UpdateExpression="SET " + ", ".join(updates) + tail,
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                    ExpressionAttributeNames={"#type": "type", "#url": "url", "#state": "state"},
                )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def logs(self, execution_id: str) -> list[DeliveryLog]:
        key = {":pk": {"S": f"{DELIVERY_PREFIX}{execution_id}"}}
        with transient_failures_as_unavailable("DynamoDB"):
            response = self._client.query(
                TableName=self._table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues=key
            )
        logs = [DeliveryLog.model_validate(plain_item(item)) for item in response.get("Items", [])]
        return sorted(logs, key=lambda log: log.attempts[0].at)  # a log is written with its first attempt

    def mark_failed(self, execution_id: str, state: DeliveryState) -> None:
        with transient_failures_as_unavailable("DynamoDB"):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=execution_pk(execution_id),
                    # Names for both: DynamoDB reserves many words, and these are too near some (FAIL, CALL).
                    UpdateExpression="SET #callback.#failed = :state",
                    ConditionExpression="attribute_exists(#callback)",
                    ExpressionAttributeNames={"#callback": "callback", "#failed": "failed"},
                    ExpressionAttributeValues={":state": {"S": state.value}},
                )
            except ClientError as error:
                if (
                    error_code(error) != "ConditionalCheckFailedException"
                ):  # the record is gone: nothing to say
                    raise


class SqsDeliveryQueue:
    def __init__(self, client: Callable[[], SQSClient], queue_url: str, dead_letter_url: str) -> None:
        """`client`: the shared client's getter, called at the first send."""
        self._client = client
        self._queue_url = queue_url
        self._dead_letter_url = dead_letter_url

    def send(self, message: DeliveryMessage, delay_seconds: int) -> None:
        with transient_failures_as_unavailable("SQS"):
            self._client().send_message(
                QueueUrl=self._queue_url,
                MessageBody=message.model_dump_json(by_alias=True),
                DelaySeconds=delay_seconds,
            )

    def dead_letter(self, message: DeliveryMessage) -> None:
        with transient_failures_as_unavailable("SQS"):
            self._client().send_message(
                QueueUrl=self._dead_letter_url, MessageBody=message.model_dump_json(by_alias=True)
            )
