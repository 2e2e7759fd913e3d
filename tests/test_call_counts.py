"""What each operation costs in AWS calls, counted with botocore's event hooks on the shared clients."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import boto3
import pytest
from flowport import services
from flowport.local.cloud import LocalCloud

from tests.support import TICKET, Api, CallLog, calls_recorded, wait_until


@pytest.fixture
def aws_calls(cloud: LocalCloud) -> Iterator[CallLog]:
    with calls_recorded() as log:
        yield log


def keyed(strategy: str) -> dict[str, str | None]:
    return {"Idempotency-Key": "counted", "X-On-Conflict": strategy}


def test_a_new_start_is_its_slot_one_conditional_write_and_start_execution(api: Api, aws_calls: CallLog):
    assert aws_calls.during(lambda: api.start()) == [
        "dynamodb.UpdateItem",  # the slot
        "dynamodb.PutItem",
        "sfn.StartExecution",
    ]
    # A keyed start takes its slot after the key: a replay, the common retry, stays one call.
    assert aws_calls.during(lambda: api.start(headers=keyed("FAIL"))) == [
        "dynamodb.TransactWriteItems",
        "dynamodb.UpdateItem",
        "sfn.StartExecution",
    ]


def test_a_start_that_waits_is_its_refused_take_its_record_and_a_second_take(api: Api, aws_calls: CallLog):
    started = [api.start("partner-sync", {"batchId": f"b{n}", "seconds": 60}) for n in range(2)]
    late = {"batchId": "late", "seconds": 60}
    calls = aws_calls.during(lambda: started.append(api.start("partner-sync", late)))
    assert started[-1].json()["status"] == "QUEUED"
    assert calls == [
        "dynamodb.UpdateItem",  # its take of a slot, refused: both are taken
        "dynamodb.PutItem",  # its record, in the queue
        "dynamodb.UpdateItem",  # the second take, for a slot freed in between (refused too)
    ]
    for response in started:
        api.cancel(response.json()["executionId"])


def test_replay_and_conflict_cost_one_call_once_the_start_is_confirmed(api: Api, aws_calls: CallLog):
    slow = {**TICKET, "delaySeconds": 60}
    execution_id = api.start(body=slow, headers=keyed("RETURN_EXISTING")).json()["executionId"]
    wait_until(lambda: api.get(execution_id).json()["status"] == "RUNNING")
    wait_until(lambda: services.execution_store().get(execution_id, 0).status.value == "RUNNING")  # type: ignore[union-attr]
    assert aws_calls.during(lambda: api.start(body=slow, headers=keyed("RETURN_EXISTING"))) == [
        "dynamodb.TransactWriteItems"
    ]
    assert aws_calls.during(lambda: api.start(body=slow, headers=keyed("FAIL"))) == [
        "dynamodb.TransactWriteItems"
    ]
    api.cancel(execution_id)


def test_reading_a_finished_execution_is_one_dynamodb_read(api: Api, aws_calls: CallLog):
    execution_id = api.start().json()["executionId"]
    store = services.execution_store()
    wait_until(lambda: (record := store.get(execution_id, 0)) is not None and record.status.is_terminal)
    # The record and its live view in one read; a finished record needs no more.
    assert aws_calls.during(lambda: api.get(execution_id)) == ["dynamodb.BatchGetItem"]
    assert api.get(execution_id).json()["progress"] == 100


@pytest.fixture
def views_fresh_for_a_minute(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """Live views that stay fresh for the whole test, so what is counted does not depend on its speed."""
    monkeypatch.setenv("FLOWPORT_LIVE_VIEW_SECONDS", "60")
    services.reset()


def waiting_in_step_functions(execution_id: str) -> None:
    """Until Step Functions has it in its Wait state and the record says RUNNING (asked of Step Functions
    and DynamoDB directly: a status read would make the live view this test counts)."""
    record = wait_until(
        lambda: (
            (found := services.execution_store().get(execution_id, 0)) is not None
            and found.status.value == "RUNNING"
            and found
        )
    )
    history = boto3.client("stepfunctions").get_execution_history
    wait_until(
        lambda: any(
            event["type"] == "WaitStateEntered"
            for event in history(executionArn=record.execution_arn)["events"]
        )
    )


@pytest.mark.usefixtures("views_fresh_for_a_minute")
def test_a_running_execution_reads_its_history_once_per_live_view(api: Api, aws_calls: CallLog):
    execution_id = api.start(body={**TICKET, "delaySeconds": 60}).json()["executionId"]
    waiting_in_step_functions(execution_id)
    documents: list[dict[str, Any]] = []

    def read() -> None:
        documents.append(api.get(execution_id).json())

    # The first reader finds no view: it claims the refresh, reads one page of history, keeps the view.
    assert aws_calls.during(read) == [
        "dynamodb.BatchGetItem",
        "dynamodb.UpdateItem",
        "sfn.GetExecutionHistory",
        "dynamodb.PutItem",
    ]
    # Every reader while it is fresh: the record and the view, in one call.
    for _ in range(3):
        assert aws_calls.during(read) == ["dynamodb.BatchGetItem"]
    for document in documents:
        assert document["status"] == "RUNNING"
        assert document["currentNode"] == "WaitForAgentPool"
        assert 0 < document["progress"] < 100
        assert document["completedNodes"] < document["totalNodes"]
    assert len({document["startedAt"] for document in documents}) == 1
    api.cancel(execution_id)


def test_a_cancel_is_the_claim_the_stop_and_the_record(api: Api, aws_calls: CallLog):
    execution_id = api.start(body={**TICKET, "delaySeconds": 60}).json()["executionId"]
    waiting_in_step_functions(execution_id)
    assert aws_calls.during(lambda: api.cancel(execution_id)) == [
        "dynamodb.UpdateItem",
        "sfn.StopExecution",
        "dynamodb.UpdateItem",
    ]
    assert aws_calls.during(lambda: api.cancel(execution_id)) == ["dynamodb.UpdateItem"]  # refused: 409


def test_a_start_with_searchable_input_writes_its_pointer_in_the_same_call(api: Api, aws_calls: CallLog):
    searchable = {**TICKET, "customerId": "c-1"}
    assert aws_calls.during(lambda: api.start(body=searchable)) == [
        "dynamodb.UpdateItem",
        "dynamodb.TransactWriteItems",
        "sfn.StartExecution",
    ]
    assert aws_calls.during(lambda: api.start(body=searchable, headers=keyed("FAIL"))) == [
        "dynamodb.TransactWriteItems",
        "dynamodb.UpdateItem",
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
