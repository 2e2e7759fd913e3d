"""GET /executions/{id}/history and GET /executions/{id}/events, through their functions, on moto."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flowport import services
from flowport.core.errors import ServiceUnavailable
from flowport.local.cloud import LocalCloud

from tests.support import TICKET, Api, HttpResult, load_event, wait_until, with_request

REPORT = load_event("start-document-summary")["body"]
SSE_EVENT = re.compile(r"id: (?P<id>\S+)\nevent: (?P<type>\S+)\ndata: (?P<data>.*)\n\n")


def history(api: Api, execution_id: str, **query: str) -> HttpResult:
    return api.call(
        with_request(
            load_event("get-execution-history"), path_parameters={"executionId": execution_id}, query=query
        )
    )


def events(api: Api, execution_id: str, last_event_id: str | None) -> HttpResult:
    return api.call(
        with_request(
            load_event("stream-execution-events"),
            path_parameters={"executionId": execution_id},
            headers={"Last-Event-ID": last_event_id},
        )
    )


def finished_document_summary(api: Api, body: str = REPORT) -> str:
    started = api.start("document-summary", raw_body=body, headers={"Content-Type": "text/markdown"})
    execution_id: str = started.json()["executionId"]
    api.wait_for_status(execution_id, "COMPLETED", "FAILED")
    return execution_id


# History


def test_the_event_file_pages_through_a_finished_executions_state_runs(api: Api):
    execution_id = finished_document_summary(api)
    names, token, pages = [], None, 0
    while True:
        page = history(api, execution_id, limit="3", **({"nextToken": token} if token else {}))
        assert page.status == 200, page.body
        document = page.json()
        names.extend(node["name"] for node in document["items"])
        pages += 1
        token = document.get("nextToken")
        if token is None:
            break
    assert names == [
        "ParseDocument",
        "ReportSections",
        "AnalyseSections",
        "AnalyseSection",
        "AnalyseSection",
        "Summarise",
        "Summarised",
    ]
    assert pages == 3


def test_include_io_adds_each_states_input_and_output(api: Api):
    execution_id = finished_document_summary(api)
    first = history(api, execution_id, include="io", limit="1").json()["items"][0]
    assert first["name"] == "ParseDocument"
    assert first["input"]["document"].startswith("# Quarterly report")
    assert first["output"]["title"] == "Quarterly report"
    assert "input" not in history(api, execution_id, limit="1").json()["items"][0]


def test_a_failed_state_shows_its_error(api: Api):
    execution_id = finished_document_summary(
        api, body="PK\x03\x04 zip?"
    )  # binary-looking: refused by the run
    nodes = history(api, execution_id).json()["items"]
    assert [(n["name"], n["status"], n["error"]["code"]) for n in nodes] == [
        ("ParseDocument", "FAILED", "InvalidDocument"),
        ("RejectDocument", "FAILED", "InvalidDocument"),
    ]


def test_a_running_execution_shows_its_open_state(api: Api):
    started = api.start(body={**TICKET, "delaySeconds": 60}).json()
    api.wait_for_status(started["executionId"], "RUNNING")
    try:
        nodes = wait_until(
            lambda: (
                (n := history(api, started["executionId"]).json()["items"])
                and n[-1]["name"] == "WaitForAgentPool"
                and n
            )
        )
        assert (nodes[-1]["status"], "endedAt" in nodes[-1]) == ("RUNNING", False)
    finally:
        api.cancel(started["executionId"])


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"limit": "0"}, "invalid_parameter"),
        ({"limit": "101"}, "invalid_parameter"),
        ({"include": "everything"}, "invalid_parameter"),
        ({"nextToken": "bm90IGEgdG9rZW4"}, "invalid_next_token"),
    ],
)
def test_bad_history_parameters_are_problems(api: Api, query: dict[str, str], code: str):
    execution_id = finished_document_summary(api)
    answer = history(api, execution_id, **query)
    assert (answer.status, answer.problem_code) == (400, code)


def forgeries(token: str) -> dict[str, str]:
    """What a client might make of a token or event id it got: each must be refused."""
    head, _, signature = token.rpartition(".")
    return {
        "cut short": token[:-1],
        "without its signature": head,
        "another position under its signature": ("9" if head[0] != "9" else "8") + head[1:] + "." + signature,
        "longer": token + "A",
    }


def test_a_history_token_works_only_as_given_and_only_for_its_execution(api: Api):
    execution_id, other_id = finished_document_summary(api), finished_document_summary(api)
    token = history(api, execution_id, limit="3").json()["nextToken"]
    assert history(api, execution_id, limit="3", nextToken=token).status == 200
    for name, forged in {**forgeries(token), "another execution's": token}.items():
        target = other_id if name == "another execution's" else execution_id
        answer = history(api, target, limit="3", nextToken=forged)
        assert (answer.status, answer.problem_code) == (400, "invalid_next_token"), name
        assert answer.headers["content-type"] == "application/problem+json"


def test_history_of_an_unknown_execution_is_404(api: Api):
    answer = history(api, "no-such-execution")
    assert (answer.status, answer.problem_code) == (404, "execution_not_found")


# Events


@pytest.fixture
def quick_stream(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    """Responses that wait at most 2 s for news, looking every 50 ms."""
    monkeypatch.setenv("FLOWPORT_STREAM_MAX_SECONDS", "2")
    monkeypatch.setenv("FLOWPORT_STREAM_POLL_SECONDS", "0.05")
    services.reset()


def parsed(body: str) -> list[dict[str, Any]]:
    return [match.groupdict() for match in SSE_EVENT.finditer(body)]


def follow(api: Api, execution_id: str, last_event_id: str | None = None) -> list[dict[str, Any]]:
    """Reconnect as EventSource does, with the last id seen, until the stream says it is over (204)."""
    received: list[dict[str, Any]] = []
    for _ in range(200):
        answer = events(api, execution_id, last_event_id)
        if answer.status == 204:
            return received
        assert answer.status == 200, answer.body
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.body.endswith("retry: 1000\n\n")
        received.extend(parsed(answer.body))
        last_event_id = received[-1]["id"] if received else last_event_id
    raise AssertionError("the stream never ended")


@pytest.mark.usefixtures("quick_stream")
def test_a_client_follows_a_running_execution_to_its_completed_event(api: Api):
    started = api.start("document-summary", raw_body=REPORT, headers={"Content-Type": "text/markdown"})
    received = follow(api, started.json()["executionId"])
    kinds = [event["type"] for event in received]
    assert kinds[0] in {"status", "node_started"}
    assert kinds[-1] == "completed"
    assert kinds.count("node_started") == kinds.count("node_completed") == 7
    assert len({event["id"] for event in received}) == len(received)
    assert '"statusVariables":{"title":"Quarterly report"' in received[-1]["data"]


@pytest.mark.usefixtures("quick_stream")
def test_reconnecting_with_any_last_event_id_resumes_exactly_after_it(api: Api):
    execution_id = finished_document_summary(api)
    whole = follow(api, execution_id)
    for position, event in enumerate(whole[:-1]):
        rest = follow(api, execution_id, event["id"])
        missed = whole[position + 1 :]
        assert node_facts(rest) == node_facts(missed), f"resuming after {event['id']}"
        assert rest[-1]["type"] == "completed"
        assert not {e["id"] for e in rest} & {e["id"] for e in whole[: position + 1]}


def node_facts(received: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(event["type"], event["data"]) for event in received if event["type"].startswith("node_")]


@pytest.mark.usefixtures("quick_stream")
def test_after_the_final_event_the_stream_answers_204(api: Api):
    execution_id = finished_document_summary(
        api, body="PK\x03\x04 zip?"
    )  # binary-looking: refused by the run
    whole = follow(api, execution_id)
    assert whole[-1]["type"] == "failed"
    assert events(api, execution_id, whole[-1]["id"]).status == 204


def test_a_garbled_last_event_id_is_a_problem(api: Api):
    answer = events(api, "any-execution", "not-an-id")
    assert (answer.status, answer.problem_code) == (400, "invalid_last_event_id")


@pytest.mark.usefixtures("quick_stream")
def test_a_last_event_id_works_only_as_sent_and_only_for_its_execution(api: Api):
    execution_id, other_id = finished_document_summary(api), finished_document_summary(api)
    whole = follow(api, execution_id)
    last_id = whole[-2]["id"]
    assert follow(api, execution_id, last_id)[-1]["type"] == "completed"
    # The other execution's stream sent ids of the same positions; neither is the other's.
    assert not {event["id"] for event in whole} & {event["id"] for event in follow(api, other_id)}
    for name, forged in {**forgeries(last_id), "another execution's": last_id}.items():
        target = other_id if name == "another execution's" else execution_id
        answer = events(api, target, forged)
        assert (answer.status, answer.problem_code) == (400, "invalid_last_event_id"), name
        assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.usefixtures("quick_stream")
def test_events_of_an_unknown_execution_is_404(api: Api):
    answer = events(api, "no-such-execution", None)
    assert (answer.status, answer.problem_code) == (404, "execution_not_found")


@pytest.mark.usefixtures("quick_stream")
def test_a_throttled_look_is_nothing_new_for_now_not_an_error(api: Api, monkeypatch: pytest.MonkeyPatch):
    execution_id = finished_document_summary(api)

    def throttled(*_: object, **__: object) -> None:
        raise ServiceUnavailable("DynamoDB is throttling")

    monkeypatch.setattr(services.live_views(), "read", throttled)
    answer = events(api, execution_id, None)
    assert answer.status == 200
    assert answer.body == ": no new events\n\nretry: 5000\n\n"
