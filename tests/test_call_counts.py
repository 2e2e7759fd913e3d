"""What each operation costs in AWS calls, counted with botocore's event hooks on the shared clients."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from flowport.local.cloud import LocalCloud

from tests.support import TICKET, Api, CallLog, calls_recorded, wait_until


@pytest.fixture
def aws_calls(cloud: LocalCloud) -> Iterator[CallLog]:
    with calls_recorded() as log:
        yield log


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


def test_a_start_with_searchable_input_writes_its_pointer_in_the_same_call(api: Api, aws_calls: CallLog):
    searchable = {**TICKET, "customerId": "c-1"}
    assert aws_calls.during(lambda: api.start(body=searchable)) == [
        "dynamodb.TransactWriteItems",
        "sfn.StartExecution",
    ]
    assert aws_calls.during(lambda: api.start(body=searchable, headers=keyed("FAIL"))) == [
        "dynamodb.TransactWriteItems",
        "sfn.StartExecution",
    ]


def test_a_search_page_is_one_query_and_an_input_field_search_adds_one_batch_read(
    api: Api, aws_calls: CallLog
):
    started = [
        api.start(body={**TICKET, "customerId": "c-1"}, query={"correlationId": "c"}).json() for _ in range(3)
    ]
    wait_until(lambda: len(api.search(status="COMPLETED").json()["items"]) == 3)
    # Without filters a page reads a day per Query: today's fills the first; the last reads the rest of
    # today, then each day back to the oldest a record can be from (7 days' run + nightly-report's 7 of
    # retention).
    first = api.search(limit="2").json()
    assert aws_calls.during(lambda: api.search(limit="2")) == ["dynamodb.Query"]
    last = aws_calls.during(lambda: api.search(limit="2", nextToken=first["nextToken"]))
    assert last == ["dynamodb.Query"] * 15
    for query in [
        {"workflow": "ticket-triage"},
        {"status": "COMPLETED"},
        {"workflow": "ticket-triage", "status": "COMPLETED"},
        {"correlationId": "c", "status": "COMPLETED"},
        {"since": started[0]["createdAt"], "until": started[2]["createdAt"]},
    ]:
        first = api.search(limit="2", **query).json()
        assert len(first["items"]) == 2, query
        assert aws_calls.during(partial(api.search, limit="2", **query)) == ["dynamodb.Query"], query
        following = partial(api.search, limit="2", nextToken=first["nextToken"], **query)
        assert aws_calls.during(following) == ["dynamodb.Query"], query
    by_customer = {"workflow": "ticket-triage", "input.customerId": "c-1"}
    assert aws_calls.during(lambda: api.search(**by_customer)) == ["dynamodb.Query", "dynamodb.BatchGetItem"]
    nobody = {"workflow": "ticket-triage", "input.customerId": "nobody"}
    assert aws_calls.during(lambda: api.search(**nobody)) == ["dynamodb.Query"]


def test_no_route_ever_scans_or_queries_a_whole_table(api: Api, aws_calls: CallLog):
    calls = aws_calls.during(
        lambda: [
            api.start(),
            api.get("00000000-0000-0000-0000-000000000000"),
            api.start(headers=keyed("FAIL")),
            api.search(),
            api.search(workflow="ticket-triage", **{"input.customerId": "c-1"}),
        ]
    )
    assert not [call for call in calls if call.endswith(("Scan", "ListExecutions"))]
