"""The moto gaps flowport.local.moto_fixes covers. If moto fixes or changes them, these say so."""

from __future__ import annotations

import inspect
import threading
import time

import boto3
from flowport.core.models import execution_arn
from flowport.local import moto_fixes
from flowport.local.cloud import LocalCloud
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
        for n in range(200):
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
