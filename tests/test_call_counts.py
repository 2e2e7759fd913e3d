"""What each operation costs in AWS calls, counted with botocore's event hooks on the shared clients."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flowport.aws import clients
from flowport.local.cloud import LocalCloud

from tests.support import TICKET, Api, wait_until


class CallLog:
    """Calls made on this thread: the local EventBridge delivers to the sync function on its own."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._thread = threading.get_ident()

    def record(self, event_name: str, **_: Any) -> None:
        # event_name is "before-call.<service id>.<Operation>"
        if threading.get_ident() == self._thread:
            self.calls.append(".".join(event_name.split(".")[1:]))

    def during(self, action: Any) -> list[str]:
        self.calls.clear()
        action()
        return list(self.calls)


@pytest.fixture
def aws_calls(cloud: LocalCloud) -> Iterator[CallLog]:
    log = CallLog()
    for client in (clients.dynamodb(), clients.stepfunctions()):
        client.meta.events.register("before-call.*.*", log.record)
    yield log
    for client in (clients.dynamodb(), clients.stepfunctions()):
        client.meta.events.unregister("before-call.*.*", log.record)


def keyed(strategy: str) -> dict[str, str | None]:
    return {"Idempotency-Key": "counted", "X-On-Conflict": strategy}


def test_a_new_start_is_one_conditional_write_and_start_execution(api: Api, aws_calls: CallLog):
    assert aws_calls.during(lambda: api.start()) == ["dynamodb.PutItem", "sfn.StartExecution"]
    assert aws_calls.during(lambda: api.start(headers=keyed("FAIL"))) == [
        "dynamodb.TransactWriteItems",
        "sfn.StartExecution",
    ]


def test_replay_and_conflict_cost_one_call_once_the_start_is_confirmed(api: Api, aws_calls: CallLog):
    slow = {**TICKET, "delaySeconds": 60}
    execution_id = api.start(body=slow, headers=keyed("RETURN_EXISTING")).json()["executionId"]
    wait_until(lambda: api.get(execution_id).json()["status"] == "RUNNING")
    from flowport import services

    wait_until(lambda: services.execution_service()._store.get(execution_id, 0).status.value == "RUNNING")  # type: ignore[union-attr]
    assert aws_calls.during(lambda: api.start(body=slow, headers=keyed("RETURN_EXISTING"))) == [
        "dynamodb.TransactWriteItems"
    ]
    assert aws_calls.during(lambda: api.start(body=slow, headers=keyed("FAIL"))) == [
        "dynamodb.TransactWriteItems"
    ]
    api.cancel(execution_id)


def test_reading_a_finished_execution_is_one_dynamodb_read(api: Api, aws_calls: CallLog):
    execution_id = api.start().json()["executionId"]
    from flowport import services

    store = services.execution_service()._store
    wait_until(lambda: (record := store.get(execution_id, 0)) is not None and record.status.is_terminal)
    assert aws_calls.during(lambda: api.get(execution_id)) == ["dynamodb.GetItem"]
    assert api.get(execution_id).json()["progress"] == 100


def test_reading_a_running_execution_is_one_read_and_one_history_page(api: Api, aws_calls: CallLog):
    execution_id = api.start(body={**TICKET, "delaySeconds": 60}).json()["executionId"]
    wait_until(lambda: api.get(execution_id).json().get("currentNode") == "WaitForAgentPool")
    document: dict[str, Any] = {}

    def read() -> None:
        document.update(api.get(execution_id).json())

    assert aws_calls.during(read) == ["dynamodb.GetItem", "sfn.GetExecutionHistory"]
    assert document["status"] == "RUNNING"
    assert document["currentNode"] == "WaitForAgentPool"
    assert 0 < document["progress"] < 100
    assert document["completedNodes"] < document["totalNodes"]
    api.cancel(execution_id)


def test_no_route_ever_scans_or_queries_a_whole_table(api: Api, aws_calls: CallLog):
    calls = aws_calls.during(
        lambda: [
            api.start(),
            api.get("00000000-0000-0000-0000-000000000000"),
            api.start(headers=keyed("FAIL")),
        ]
    )
    assert not [call for call in calls if call.endswith(("Scan", "ListExecutions"))]
