"""The moto gaps flowport.local.moto_fixes covers. If moto fixes or changes them, these say so."""

from __future__ import annotations

import inspect
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from flowport.core.models import execution_arn
from flowport.local import moto_fixes
from flowport.local.cloud import LocalCloud
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.dynamo_type import Item
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from tests.support import wait_until


def test_the_patched_method_keeps_the_signature_moto_calls():
    assert list(inspect.signature(moto_fixes._original_stop).parameters) == [
        "self",
        "stop_date",
        "error",
        "cause",
    ]
    assert "self.env.set_stop" in inspect.getsource(moto_fixes._original_stop)


def test_stop_right_after_start_stops_the_execution(cloud: LocalCloud):
    assert moto_fixes.is_applied()
    assert ExecutionWorker.stop is moto_fixes._stop_when_settled
    client = boto3.client("stepfunctions")
    machine = cloud.stack.state_machines["TicketTriageV2StateMachine"]
    for attempt in range(5):
        name = f"stop-at-once-{attempt}"
        client.start_execution(
            stateMachineArn=machine.arn,
            name=name,
            input='{"subject": "s", "customerTier": "free", "delaySeconds": 30}',
        )
        client.stop_execution(executionArn=execution_arn(machine.arn, name))
        wait_until(
            lambda name=name: (
                client.describe_execution(executionArn=execution_arn(machine.arn, name))["status"]
                == "ABORTED"
            ),
            timeout=10,
        )


def test_an_execution_sitting_in_a_wait_is_stopped_without_waiting_out_the_timeout(cloud: LocalCloud):
    client = boto3.client("stepfunctions")
    machine = cloud.stack.state_machines["TicketTriageV1StateMachine"]
    arn = execution_arn(machine.arn, "stop-in-wait")
    client.start_execution(
        stateMachineArn=machine.arn,
        name="stop-in-wait",
        input='{"subject": "s", "customerTier": "enterprise", "delaySeconds": 30}',
    )

    def newest_event() -> str | None:
        events = client.get_execution_history(executionArn=arn)["events"]
        return events[-1]["type"] if events else None

    wait_until(lambda: newest_event() == "WaitStateEntered")
    started = time.monotonic()
    client.stop_execution(executionArn=arn)
    assert time.monotonic() - started < moto_fixes.WORKER_READY_TIMEOUT_SECONDS / 2
    wait_until(lambda: client.describe_execution(executionArn=arn)["status"] == "ABORTED", timeout=10)


def test_reads_never_see_an_item_halfway_through_a_write(cloud: LocalCloud):
    """Without the request lock, reads here fail with 'dictionary changed size during iteration'."""
    (table,) = cloud.stack.tables.values()
    reader, writer = boto3.client("dynamodb"), boto3.client("dynamodb")
    key = {"pk": {"S": "EXEC#race"}, "sk": {"S": "EXEC"}}
    writer.put_item(TableName=table.name, Item={**key, **{f"a{n}": {"S": "v"} for n in range(300)}})

    def write() -> None:
        for n in range(60):
            writer.update_item(
                TableName=table.name,
                Key=key,
                UpdateExpression=f"SET x{n} = :v",
                ExpressionAttributeValues={":v": {"S": "v"}},
            )
            writer.update_item(TableName=table.name, Key=key, UpdateExpression=f"REMOVE x{n}")

    thread = threading.Thread(target=write)
    thread.start()
    reads = 0
    while thread.is_alive():
        reader.get_item(TableName=table.name, Key=key)
        reads += 1
    thread.join()
    assert reads > 10


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    """Plain moto with the fixes, and two tables: "ranged" (pk, sk) and "hashed" (pk)."""
    with mock_aws():
        moto_fixes.apply()
        client = boto3.client("dynamodb")
        for name, keys in (("ranged", ("pk", "sk")), ("hashed", ("pk",))):
            client.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[
                    {"AttributeName": key, "KeyType": kind}
                    for key, kind in zip(keys, ("HASH", "RANGE")[: len(keys)], strict=True)
                ],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"} for key in keys],
            )
        yield client


def _backend() -> DynamoDBBackend:
    (backend,) = (
        backend for account in dynamodb_backends.values() for backend in account.values() if backend.tables
    )
    return backend


def _items(client: Any) -> dict[str, list[dict[str, Any]]]:
    return {name: client.scan(TableName=name)["Items"] for name in ("ranged", "hashed")}


def test_moto_backs_up_every_table_a_transaction_names():
    """What _transact_write_items saves: if moto stops deep-copying tables, the fix can go."""
    source = inspect.getsource(moto_fixes._original_transact_write_items)
    assert re.search(r"copy\.deepcopy\(\s*self\.tables\[table_name\]", source)


def test_a_failed_transaction_leaves_every_item_as_it_was(dynamodb: Any):
    dynamodb.put_item(TableName="ranged", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    dynamodb.put_item(TableName="ranged", Item={"pk": {"S": "a"}, "sk": {"S": "2"}})
    dynamodb.put_item(TableName="hashed", Item={"pk": {"S": "kept"}, "n": {"N": "1"}})
    before = _items(dynamodb)
    tables = dict(_backend().tables)
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "new"}, "sk": {"S": "1"}}}},
                {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "a"}, "sk": {"S": "3"}}}},
                {"Put": {"TableName": "hashed", "Item": {"pk": {"S": "new"}}}},
                {
                    "Update": {
                        "TableName": "ranged",
                        "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {"Delete": {"TableName": "ranged", "Key": {"pk": {"S": "a"}, "sk": {"S": "2"}}}},
                {"Delete": {"TableName": "hashed", "Key": {"pk": {"S": "kept"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "hashed",
                        "Key": {"pk": {"S": "absent"}},
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                },
            ]
        )
    assert _items(dynamodb) == before
    assert _backend().tables == tables  # the same table objects: none was copied and put back
    assert set(_backend().tables["ranged"].items) == set(tables["ranged"].items)  # no "new" hash key left


def test_a_transaction_naming_one_item_twice_leaves_it_as_it_was(dynamodb: Any):
    put = {"Put": {"TableName": "hashed", "Item": {"pk": {"S": "twice"}}}}
    with pytest.raises(dynamodb.exceptions.ClientError, match="multiple operations"):
        dynamodb.transact_write_items(TransactItems=[put, put])
    assert _items(dynamodb) == {"ranged": [], "hashed": []}


def test_a_transaction_that_succeeds_writes_every_item(dynamodb: Any):
    dynamodb.put_item(TableName="hashed", Item={"pk": {"S": "old"}})
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "ranged", "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}}}},
            {"Delete": {"TableName": "hashed", "Key": {"pk": {"S": "old"}}}},
        ]
    )
    assert _items(dynamodb) == {"ranged": [{"pk": {"S": "a"}, "sk": {"S": "1"}}], "hashed": []}


def test_moto_keeps_no_list_of_the_items_it_made(dynamodb: Any):
    for version in range(5):
        dynamodb.put_item(TableName="hashed", Item={"pk": {"S": "one"}, "v": {"N": str(version)}})
        dynamodb.get_item(TableName="hashed", Key={"pk": {"S": "one"}}, ProjectionExpression="v")
    assert Item.instances_tracked == []  # type: ignore[attr-defined]
