"""GET /executions through the status Lambda: each filter, their combinations, pagination, bad input.

Executions really run (moto's Step Functions) and the sync function records their status, as in AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from flowport.aws import clients
from flowport.local.cloud import LocalCloud

from tests.support import TICKET, Api, HttpResult, load_event, wait_until

SLOW = {**TICKET, "delaySeconds": 60}
SPAM = {**TICKET, "subject": "Buy cheap spam now"}  # ticket-triage v2 fails it


@pytest.fixture(autouse=True)
def no_scans(cloud: LocalCloud) -> Iterator[None]:
    """Search is served by indexes: no test here may see a Scan."""
    scans: list[str] = []

    def record(event_name: str, **_: Any) -> None:
        scans.append(event_name)

    client = clients.dynamodb()
    client.meta.events.register("before-call.dynamodb.Scan", record)
    yield
    client.meta.events.unregister("before-call.dynamodb.Scan", record)
    assert scans == []


def ids(response: HttpResult) -> list[str]:
    assert response.status == 200, response.body
    return [item["executionId"] for item in response.json()["items"]]


def all_pages(api: Api, **query: str) -> list[list[str]]:
    pages: list[list[str]] = []
    token: str | None = None
    while True:
        response = api.search(**query, **({"nextToken": token} if token else {}))
        pages.append(ids(response))
        token = response.json().get("nextToken")
        if token is None:
            return pages


def start(
    api: Api, body: dict[str, Any] = TICKET, workflow: str = "ticket-triage", **options: Any
) -> dict[str, Any]:
    response = api.start(workflow, body, **options)
    assert response.status == 202, response.body
    started: dict[str, Any] = response.json()
    return started


def test_the_sample_event_reaches_the_status_handler(api: Api):
    response = api.call(load_event("list-executions"))
    assert (response.status, response.headers["content-type"], response.json()) == (
        200,
        "application/json",
        {"items": []},
    )
    started = start(api)
    wait_until(lambda: ids(api.call(load_event("list-executions"))) == [started["executionId"]])
    (item,) = api.call(load_event("list-executions")).json()["items"]
    assert item == {**started, "status": "COMPLETED"}  # the start's own summary, links under the stage


def test_each_filter_alone_and_combined(api: Api):
    a = start(api, {**TICKET, "customerId": "c-1"}, query={"correlationId": "A"})
    b = start(api, {**SLOW, "customerId": "c-2"}, query={"correlationId": "B"})
    c = start(
        api,
        workflow="document-summary",
        body=None,
        raw_body="# Notes\n\nShort.",
        query={"correlationId": "A"},
    )
    d = start(
        api, SPAM, query={"correlationId": "A"}, headers={"Idempotency-Key": "k", "X-On-Conflict": "FAIL"}
    )
    a_, b_, c_, d_ = (execution["executionId"] for execution in (a, b, c, d))
    wait_until(lambda: ids(api.search(status="COMPLETED")) == [c_, a_], timeout=30)
    wait_until(lambda: ids(api.search(status="FAILED")) == [d_])
    wait_until(lambda: ids(api.search(status="RUNNING")) == [b_])

    def found(**query: str) -> list[str]:
        return ids(api.search(**query))

    assert found() == [d_, c_, b_, a_]  # newest first; the idempotency key's item is not listed
    assert found(workflow="ticket-triage") == [d_, b_, a_]
    assert found(workflow="document-summary") == [c_]
    assert found(workflow="nightly-report") == []
    assert found(status="QUEUED") == []
    assert found(workflow="ticket-triage", status="COMPLETED") == [a_]
    assert found(workflow="ticket-triage", status="FAILED") == [d_]
    assert found(correlationId="A") == [d_, c_, a_]
    assert found(correlationId="A", workflow="ticket-triage") == [d_, a_]
    assert found(correlationId="A", status="COMPLETED") == [c_, a_]
    assert found(correlationId="nobody") == []
    assert found(workflow="ticket-triage", **{"input.customerId": "c-1"}) == [a_]
    assert found(workflow="ticket-triage", **{"input.customerId": "c-2"}) == [b_]
    assert found(workflow="ticket-triage", status="RUNNING", **{"input.customerId": "c-1"}) == []
    assert found(workflow="ticket-triage", correlationId="B", **{"input.customerId": "c-2"}) == [b_]
    assert found(since=b["createdAt"]) == [d_, c_, b_]
    assert found(until=b["createdAt"]) == [b_, a_]
    assert found(since=c["createdAt"], until=c["createdAt"]) == [c_]
    assert found(since=b["createdAt"], until=c["createdAt"], workflow="ticket-triage") == [b_]
    assert found(since=b["createdAt"], correlationId="A") == [d_, c_]
    plus_two = timezone(timedelta(hours=2))
    at_b = datetime.fromisoformat(b["createdAt"]).astimezone(plus_two).isoformat()
    assert "+02:00" in at_b
    assert found(until=at_b) == [b_, a_]
    api.cancel(b_)


def test_a_status_change_moves_an_execution_between_status_results(api: Api):
    quick = start(api, {**TICKET, "delaySeconds": 2})["executionId"]
    slow = start(api, SLOW)["executionId"]
    wait_until(lambda: ids(api.search(status="RUNNING")) == [slow, quick])
    assert ids(api.search(status="COMPLETED")) == []
    wait_until(lambda: ids(api.search(status="COMPLETED")) == [quick])
    assert ids(api.search(status="RUNNING")) == [slow]
    assert api.cancel(slow).status == 200
    wait_until(lambda: ids(api.search(status="CANCELLED")) == [slow])
    assert ids(api.search(status="RUNNING")) == []
    assert [item["status"] for item in api.search().json()["items"]] == ["CANCELLED", "COMPLETED"]


def test_pages_hold_every_execution_once_newest_first_whatever_the_index(api: Api):
    started = [
        start(api, {**TICKET, "customerId": "c-7"}, query={"correlationId": "batch"})["executionId"]
        for _ in range(25)
    ]
    newest_first = started[::-1]
    wait_until(lambda: len(ids(api.search(status="COMPLETED", limit="100"))) == 25, timeout=60)
    for query in [
        {},
        {"workflow": "ticket-triage"},
        {"status": "COMPLETED"},
        {"workflow": "ticket-triage", "status": "COMPLETED"},
        {"correlationId": "batch"},
        {"workflow": "ticket-triage", "input.customerId": "c-7"},
        {"since": "2000-01-01T00:00:00Z", "until": "2999-01-01T00:00:00Z"},
    ]:
        pages = all_pages(api, limit="10", **query)
        assert [len(page) for page in pages][:3] == [10, 10, 5], query
        assert [execution for page in pages for execution in page] == newest_first, query
    assert all_pages(api, limit="100") == [newest_first]


def test_a_token_only_continues_the_search_it_came_from(api: Api):
    for _ in range(2):
        start(api)
    token = api.search(limit="1").json()["nextToken"]
    assert len(ids(api.search(limit="1", nextToken=token))) == 1
    assert len(ids(api.search(limit="5", nextToken=token))) == 1  # the page size may change
    for other in ({"status": "RUNNING"}, {"workflow": "ticket-triage"}, {"since": "2000-01-01T00:00:00Z"}):
        response = api.search(limit="1", nextToken=token, **other)
        assert (response.status, response.problem_code) == (400, "invalid_next_token"), other
    garbled = token[:-8] + "AAAAAAAA"
    assert api.search(limit="1", nextToken=garbled).problem_code == "invalid_next_token"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ({"status": "DONE"}, 400, "invalid_parameter"),
        ({"limit": "0"}, 400, "invalid_parameter"),
        ({"limit": "101"}, 400, "invalid_parameter"),
        ({"limit": "ten"}, 400, "invalid_parameter"),
        ({"since": "yesterday"}, 400, "invalid_parameter"),
        ({"since": "2026-11-23T12:00:00"}, 400, "invalid_parameter"),  # no offset
        ({"since": "2026-11-23T12:00:01Z", "until": "2026-11-23T12:00:00Z"}, 400, "invalid_parameter"),
        ({"until": "0001-01-01T00:00:00+01:00"}, 400, "invalid_parameter"),
        ({"correlationId": "x" * 129}, 400, "invalid_parameter"),
        ({"workflow": "x" * 64}, 400, "invalid_parameter"),
        ({"stauts": "RUNNING"}, 400, "invalid_parameter"),
        ({"input.customerId": "c-1"}, 400, "invalid_parameter"),
        ({"workflow": "ticket-triage", "input.subject": "x"}, 400, "field_not_searchable"),
        ({"workflow": "document-summary", "input.document": "x"}, 400, "field_not_searchable"),
        ({"workflow": "ticket-triage", "input.customerId": "1", "input.body": "2"}, 400, "invalid_parameter"),
        ({"workflow": "ticket-triage", "input.customerId": "x" * 1025}, 400, "invalid_parameter"),
        ({"nextToken": "garbage"}, 400, "invalid_next_token"),
        ({"nextToken": "x" * 2049}, 400, "invalid_parameter"),
        ({"workflow": "no-such-workflow"}, 404, "workflow_not_found"),
    ],
)
def test_bad_input_is_a_problem_document(api: Api, query: dict[str, str], status: int, code: str):
    response = api.search(**query)
    assert (response.status, response.problem_code) == (status, code), response.body
    assert response.json()["status"] == status


def test_the_route_is_documented(api: Api):
    document = api.call(load_event("get-openapi")).json()
    operation = document["paths"]["/executions"]["get"]
    assert operation["operationId"] == "searchExecutions"
    assert {(p["in"], p["name"]) for p in operation["parameters"]} == {
        ("query", name)
        for name in (
            "workflow",
            "status",
            "correlationId",
            "startedBy",
            "since",
            "until",
            "limit",
            "nextToken",
        )
    }
    assert "input.<field>" in operation["description"]
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404", "431", "503"}
    assert "ExecutionPage" in document["components"]["schemas"]
    assert "searchableInputFields" in document["components"]["schemas"]["WorkflowView"]["properties"]


def test_since_and_until_take_a_utc_day(api: Api):
    """A date is a UTC day: `since` from its midnight, `until` to its end (both inclusive)."""
    started = api.start().json()
    day = started["createdAt"][:10]
    next_day = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    previous_day = (date.fromisoformat(day) - timedelta(days=1)).isoformat()
    found = api.search(since=day, until=day)
    assert found.status == 200, found.body
    assert started["executionId"] in {item["executionId"] for item in found.json()["items"]}
    assert api.search(since=next_day).json()["items"] == []
    assert api.search(until=previous_day).json()["items"] == []
