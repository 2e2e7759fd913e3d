"""DynamoDB store of principals and their credentials, in the executions table: the PrincipalDirectory port.

Items (none carries an index's key, so they stay out of every search index):
- `PRINCIPALS` / `<principalId>`: a principal, its scopes, its keys (id, hash, dates) and its user name.
  One partition for all of them: the admin routes list them with one Query; they are few and rarely
  written.
- `CRED#<sha256 of an API key>` / `CRED`: what the authorizer reads for a key, in one GetItem: the
  principal's id, name and scopes (copied: scopes never change), and the key's expiry.
- `USER#<user name>` / `CRED`: the same for a password, with its scrypt hash.
- `KEYID#<keyId>` / `KEY`: finds a key's principal and hash from its id, to revoke it.
A principal's `revision` counts its changes, so that deleting it cannot leave behind a credential that
another request added meanwhile. An expiring key's credential carries `expiresAt`, the table's TTL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from flowport.aws.errors import error_code, transient_failures_as_unavailable
from flowport.aws.store import plain_item, to_dynamo
from flowport.core.errors import KeyLimitReached, PrincipalNotFound, ServiceUnavailable, UsernameTaken
from flowport.core.identity import StoredCredential
from flowport.core.principals import MAX_KEYS_PER_PRINCIPAL, KeyInfo, Principal

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

PRINCIPALS = "PRINCIPALS"
# Leading keys of every item this module writes: the IAM conditions in template.yaml name the same.
LEADING_KEYS = (PRINCIPALS, "CRED#*", "USER#*", "KEYID#*")
DELETE_ATTEMPTS = 3


def principal_key(principal_id: str) -> dict[str, Any]:
    return {"pk": {"S": PRINCIPALS}, "sk": {"S": principal_id}}


def api_key_item_key(key_hash: str) -> dict[str, Any]:
    return {"pk": {"S": f"CRED#{key_hash}"}, "sk": {"S": "CRED"}}


def user_item_key(username: str) -> dict[str, Any]:
    return {"pk": {"S": f"USER#{username}"}, "sk": {"S": "CRED"}}


def key_id_item_key(key_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"KEYID#{key_id}"}, "sk": {"S": "KEY"}}


def _item(data: Mapping[str, Any], keys: dict[str, Any]) -> dict[str, Any]:
    return {**keys, **{name: to_dynamo(value) for name, value in data.items() if value is not None}}


def _credential_item(credential: StoredCredential, keys: dict[str, Any]) -> dict[str, Any]:
    return _item(credential.model_dump(mode="json", by_alias=True, exclude_none=True), keys)


def _principal_of(item: Mapping[str, Any]) -> Principal:
    data = plain_item(item)
    keys = [
        {"keyId": key_id, **{name: value for name, value in info.items() if name != "keyHash"}}
        for key_id, info in sorted(data.get("keys", {}).items())
    ]
    return Principal.model_validate(
        {
            "principalId": data["principalId"],
            "name": data["name"],
            "scopes": data["scopes"],
            "createdAt": data["createdAt"],
            "keys": keys,
            "username": data.get("username"),
        }
    )


class PrincipalStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # -- what the authorizer reads ------------------------------------------------------------------

    def api_key(self, key_hash: str) -> StoredCredential | None:
        return self._credential(api_key_item_key(key_hash))

    def user(self, username: str) -> StoredCredential | None:
        return self._credential(user_item_key(username))

    def _credential(self, key: dict[str, Any]) -> StoredCredential | None:
        with transient_failures_as_unavailable("DynamoDB"):
            item = self._client.get_item(TableName=self._table, Key=key).get("Item")
        return StoredCredential.model_validate(plain_item(item)) if item else None

    # -- what the admin routes change ---------------------------------------------------------------

    def create(self, principal: Principal) -> None:
        data = principal.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"keys"})
        with transient_failures_as_unavailable("DynamoDB"):
            self._client.put_item(
                TableName=self._table,
                Item={
                    **_item(data, principal_key(principal.principal_id)),
                    "keys": {"M": {}},
                    "revision": {"N": "0"},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )

    def principals(self) -> list[Principal]:
        found: list[Principal] = []
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :principals",
            "ExpressionAttributeValues": {":principals": {"S": PRINCIPALS}},
        }
        with transient_failures_as_unavailable("DynamoDB"):
            while True:
                page = self._client.query(**arguments)
                found += map(_principal_of, page.get("Items", []))
                if "LastEvaluatedKey" not in page:
                    return found
                arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def principal(self, principal_id: str) -> Principal | None:
        item = self._principal_item(principal_id)
        return _principal_of(item) if item else None

    def _principal_item(self, principal_id: str) -> dict[str, Any] | None:
        with transient_failures_as_unavailable("DynamoDB"):
            response = self._client.get_item(
                TableName=self._table, Key=principal_key(principal_id), ConsistentRead=True
            )
        return response.get("Item")

    def add_key(self, principal_id: str, key: KeyInfo, key_hash: str, credential: StoredCredential) -> None:
        info = {"keyHash": key_hash, **key.model_dump(mode="json", by_alias=True, exclude_none=True)}
        info.pop("keyId")
        items: list[TransactWriteItemTypeDef] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": principal_key(principal_id),
                    "UpdateExpression": "SET #keys.#keyId = :info ADD revision :one",
                    "ConditionExpression": "attribute_exists(pk) AND size(#keys) < :most",
                    "ExpressionAttributeNames": {"#keys": "keys", "#keyId": key.key_id},
                    "ExpressionAttributeValues": {
                        ":info": to_dynamo(info),
                        ":one": {"N": "1"},
                        ":most": {"N": str(MAX_KEYS_PER_PRINCIPAL)},
                    },
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _credential_item(credential, api_key_item_key(key_hash)),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _item(
                        {"principalId": principal_id, "keyHash": key_hash}, key_id_item_key(key.key_id)
                    ),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        try:
            self._transact(items)
        except _Refused as refused:
            if refused.first_item is None:
                raise PrincipalNotFound(f"No principal '{principal_id}'") from None
            raise KeyLimitReached(
                f"Principal '{principal_id}' holds {MAX_KEYS_PER_PRINCIPAL} keys: revoke one first"
            ) from None

    def revoke_key(self, key_id: str) -> bool:
        with transient_failures_as_unavailable("DynamoDB"):
            item = self._client.get_item(
                TableName=self._table, Key=key_id_item_key(key_id), ConsistentRead=True
            ).get("Item")
        if item is None:
            return False
        found = plain_item(item)
        try:
            self._transact(
                [
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": key_id_item_key(key_id),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {"Delete": {"TableName": self._table, "Key": api_key_item_key(found["keyHash"])}},
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": principal_key(found["principalId"]),
                            "UpdateExpression": "REMOVE #keys.#keyId ADD revision :one",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeNames": {"#keys": "keys", "#keyId": key_id},
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    },
                ]
            )
        except _Refused:
            return False  # revoked, or its principal deleted, by another request meanwhile
        return True

    def set_password(self, principal_id: str, username: str, credential: StoredCredential) -> None:
        item = self._principal_item(principal_id)
        if item is None:
            raise PrincipalNotFound(f"No principal '{principal_id}'")
        previous = plain_item(item).get("username")
        items: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _credential_item(credential, user_item_key(username)),
                    "ConditionExpression": "attribute_not_exists(pk) OR principalId = :principal",
                    "ExpressionAttributeValues": {":principal": {"S": principal_id}},
                }
            },
            {
                "Update": {
                    "TableName": self._table,
                    "Key": principal_key(principal_id),
                    "UpdateExpression": "SET username = :username ADD revision :one",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":username": {"S": username}, ":one": {"N": "1"}},
                }
            },
        ]
        if previous and previous != username:
            items.append({"Delete": {"TableName": self._table, "Key": user_item_key(previous)}})
        try:
            self._transact(items)
        except _Refused as refused:
            if refused.index == 0:
                raise UsernameTaken(f"Another principal has the user name '{username}'") from None
            raise PrincipalNotFound(f"No principal '{principal_id}'") from None

    def delete(self, principal_id: str) -> bool:
        for _ in range(DELETE_ATTEMPTS):
            item = self._principal_item(principal_id)
            if item is None:
                return False
            data = plain_item(item)
            items: list[TransactWriteItemTypeDef] = [
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": principal_key(principal_id),
                        # Unchanged since read: no credential was added that this delete would miss.
                        "ConditionExpression": "revision = :revision",
                        "ExpressionAttributeValues": {":revision": {"N": str(data["revision"])}},
                    }
                }
            ]
            for key_id, info in data.get("keys", {}).items():
                items.append({"Delete": {"TableName": self._table, "Key": key_id_item_key(key_id)}})
                items.append({"Delete": {"TableName": self._table, "Key": api_key_item_key(info["keyHash"])}})
            if data.get("username"):
                items.append({"Delete": {"TableName": self._table, "Key": user_item_key(data["username"])}})
            # Its webhook secrets go with it (imported here: the admin function alone deletes, and it has
            # that module loaded; the authorizer, which reads principals, does not).
            from flowport.aws.deliveries import secrets_key

            items.append({"Delete": {"TableName": self._table, "Key": secrets_key(principal_id)}})
            try:
                self._transact(items)
            except _Refused:
                continue
            return True
        raise ServiceUnavailable(f"Principal '{principal_id}' keeps changing; retry shortly")

    def _transact(self, items: list[TransactWriteItemTypeDef]) -> None:
        with transient_failures_as_unavailable("DynamoDB"):
            try:
                self._client.transact_write_items(TransactItems=items)
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons = error.response.get("CancellationReasons", [])
                for index, reason in enumerate(reasons):
                    if reason.get("Code") == "ConditionalCheckFailed":
                        raise _Refused(index, reasons[0].get("Item")) from error
                if any(reason.get("Code") == "TransactionConflict" for reason in reasons):
                    raise ServiceUnavailable(
                        "Another change to this principal is under way; retry"
                    ) from error
                raise


class _Refused(Exception):
    """A transaction's condition failed: `index` is the action whose; `first_item` the first action's item
    as it was (when that action asked for it)."""

    def __init__(self, index: int, first_item: Mapping[str, Any] | None) -> None:
        super().__init__(f"condition of action {index} failed")
        self.index = index
        self.first_item = first_item
