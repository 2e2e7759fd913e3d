"""Races over real HTTP, with requests that differ: the local server's functions run in containers of their
own, one event at a time each, so no request ever sees another's body, headers or key."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from flowport.local.cloud import LocalCloud
from flowport.local.server import serving

from tests.support import QUICK_STREAMS, TICKET, KeyedServer, keyed

pytestmark = pytest.mark.e2e
TIMEOUT = 60


@pytest.fixture
def server(cloud: LocalCloud) -> Iterator[KeyedServer]:
    with serving(cloud.stack, log=io.StringIO(), environment=QUICK_STREAMS) as running:
        yield keyed(running)


@dataclass(eq=False)
class Sent:
    """One request of the mix, and what its answer must say if nothing was mixed up."""

    kind: str
    send: Callable[[], requests.Response]
    check: Callable[[requests.Response], None]


def _all_at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def _status(server: KeyedServer, execution_id: str) -> Any:
    return server.http.get(f"{server.url}/executions/{execution_id}", timeout=TIMEOUT).json()


def _stored_input(server: KeyedServer, execution_id: str) -> Any:
    return _status(server, execution_id)["input"]


def _json_start(server: KeyedServer, number: int) -> tuple[Sent, dict[str, Any]]:
    body = {**TICKET, "subject": f"json start {number}", "delaySeconds": 30 + number}
    strategies = ("RETURN_EXISTING", "FAIL", "FAIL_ON_RUNNING")
    headers = {"Idempotency-Key": f"mixed-{number}", "X-On-Conflict": strategies[number % 3]}
    headers = headers if number % 2 else {"Accept": "application/json"}
    url = f"{server.url}/workflows/ticket-triage/executions?correlationId=correlation-{number}"

    def check(response: requests.Response) -> None:
        assert response.status_code == 202, response.text
        assert "idempotent-replayed" not in response.headers

    return Sent(
        "json", lambda: server.http.post(url, json=body, headers=headers, timeout=TIMEOUT), check
    ), body


def _fields_start(server: KeyedServer, number: int, kind: str) -> tuple[Sent, dict[str, Any]]:
    """A start whose input is fields: a form body ("form") or GET start's query ("get")."""
    fields = {"subject": f"{kind} start {number}", "customerTier": "pro" if kind == "form" else "free"}
    workflow = f"{server.url}/workflows/ticket-triage"

    def send() -> requests.Response:
        if kind == "form":
            return server.http.post(f"{workflow}/executions", data=fields, timeout=TIMEOUT)
        return server.http.get(f"{workflow}/start", params=fields, timeout=TIMEOUT)

    def check(response: requests.Response) -> None:
        assert response.status_code == 202, response.text

    return Sent(kind, send, check), fields


def _document_start(server: KeyedServer, number: int) -> tuple[Sent, str]:
    marker = f"marker{number}x{uuid.uuid4().hex[:8]}"
    document = f"# Report {number}\n\n## Part\n\nThe {marker} grew. Costs fell after it.\n"
    url = f"{server.url}/workflows/document-summary/executions"
    headers = {"Content-Type": "text/markdown"}

    def check(response: requests.Response) -> None:
        assert response.status_code == 202, response.text

    send = lambda: server.http.post(url, data=document.encode(), headers=headers, timeout=TIMEOUT)  # noqa: E731
    return Sent("document", send, check), marker


def _read(server: KeyedServer, execution_id: str, suffix: str, kind: str) -> Sent:
    url = f"{server.url}/executions/{execution_id}{suffix}"

    def check(response: requests.Response) -> None:
        assert response.status_code == 200, response.text
        assert response.json().get("executionId", execution_id) == execution_id

    return Sent(kind, lambda: server.http.get(url, timeout=TIMEOUT), check)


def _events(server: KeyedServer, execution_id: str) -> Sent:
    """The stream's first response only: the server holds the stream open until the execution ends."""
    url = f"{server.url}/executions/{execution_id}/events"

    def send() -> requests.Response:
        response = server.http.get(url, stream=True, timeout=TIMEOUT)
        next(response.iter_lines(), None)
        response.close()
        return response

    def check(response: requests.Response) -> None:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")

    return Sent("events", send, check)


def _cancel(server: KeyedServer, execution_id: str) -> Sent:
    url = f"{server.url}/executions/{execution_id}"

    def check(response: requests.Response) -> None:
        assert response.status_code == 200, response.text
        assert response.json()["executionId"] == execution_id

    return Sent("cancel", lambda: server.http.delete(url, timeout=TIMEOUT), check)


def _search(server: KeyedServer, workflow: str) -> Sent:
    url = f"{server.url}/executions"

    def check(response: requests.Response) -> None:
        assert response.status_code == 200, response.text
        assert {item["workflow"] for item in response.json()["items"]} <= {workflow}

    return Sent("search", lambda: server.http.get(url, params={"workflow": workflow}, timeout=TIMEOUT), check)


def test_a_hundred_concurrent_requests_of_every_kind_each_get_their_own_answer(server: KeyedServer):
    url = f"{server.url}/workflows/ticket-triage/executions"
    existing = [
        server.http.post(
            url, json={**TICKET, "subject": f"existing {n}", "delaySeconds": 60}, timeout=TIMEOUT
        )
        for n in range(20)
    ]
    ids = [response.json()["executionId"] for response in existing]
    json_starts = [_json_start(server, n) for n in range(30)]
    form_starts = [_fields_start(server, n, "form") for n in range(10)]
    get_starts = [_fields_start(server, n, "get") for n in range(10)]
    document_starts = [_document_start(server, n) for n in range(10)]
    mix: list[Sent] = [sent for sent, _ in json_starts + form_starts + get_starts + document_starts]
    mix += [_read(server, execution_id, "", "status") for execution_id in ids[:10]]
    mix += [_read(server, execution_id, "/history", "history") for execution_id in ids[10:15]]
    mix += [_events(server, execution_id) for execution_id in ids[:10]]
    mix += [_cancel(server, execution_id) for execution_id in ids[15:20]]
    mix += [_search(server, workflow) for workflow in ("ticket-triage", "document-summary") * 5]
    assert len(mix) == 100

    answers = _all_at_once([sent.send for sent in mix])

    for sent, answer in zip(mix, answers, strict=True):
        sent.check(answer)
    started = dict(zip(mix, answers, strict=True))
    for sent, body in json_starts + form_starts + get_starts:
        status = _status(server, started[sent].json()["executionId"])
        assert {name: status["input"][name] for name in body} == body, (sent.kind, status)
        if sent.kind == "json":
            assert status["correlationId"] == f"correlation-{body['delaySeconds'] - 30}"
    for sent, marker in document_starts:
        stored = _stored_input(server, started[sent].json()["executionId"])
        assert marker in json.dumps(stored), stored
    new_ids = [answer.json()["executionId"] for sent, answer in started.items() if answer.status_code == 202]
    assert len(set(new_ids)) == len(new_ids) == 60


def test_fifty_different_bodies_with_one_key_start_one_execution_and_replay_nothing_else(server: KeyedServer):
    url = f"{server.url}/workflows/ticket-triage/executions"
    headers = {"Idempotency-Key": "one-key", "X-On-Conflict": "RETURN_EXISTING"}
    bodies = [{**TICKET, "subject": f"body {n}", "delaySeconds": 60} for n in range(50)]
    answers = _all_at_once(
        [
            lambda body=body: server.http.post(url, json=body, headers=headers, timeout=TIMEOUT)
            for body in bodies
        ]
    )

    pairs = list(zip(bodies, answers, strict=True))
    started = [(body, answer) for body, answer in pairs if answer.status_code == 202]
    assert len(started) == 1, [answer.status_code for answer in answers]
    [(winner, first)] = started
    execution_id = first.json()["executionId"]
    assert _stored_input(server, execution_id) == winner
    for body, answer in pairs:
        if body is winner:
            continue
        assert answer.status_code in (409, 422), (answer.status_code, answer.text)
        expected = "idempotency_key_reused" if answer.status_code == 422 else "idempotency_key_in_flight"
        assert answer.json()["code"] == expected, answer.text
    assert server.http.delete(f"{server.url}/executions/{execution_id}", timeout=TIMEOUT).status_code == 200
