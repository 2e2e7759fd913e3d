"""The local server over real HTTP: what `make dev` gives a developer."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests
from flowport.local.cloud import LocalCloud
from flowport.local.server import serving

from tests.support import QUICK_STREAMS, TICKET, KeyedServer, keyed, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(cloud: LocalCloud) -> Iterator[KeyedServer]:
    with serving(cloud.stack, log=io.StringIO(), environment=QUICK_STREAMS) as running:
        yield keyed(running)


def test_start_watch_and_finish(server: KeyedServer):
    started = server.http.post(f"{server.url}/workflows/ticket-triage/executions", json=TICKET, timeout=10)
    assert started.status_code == 202
    location = started.headers["Location"]
    assert location == f"/executions/{started.json()['executionId']}"
    done = wait_until(
        lambda: (
            (r := server.http.get(server.url + location, timeout=10).json())["status"] == "COMPLETED" and r
        )
    )
    assert done["output"]["queue"] == "priority"


def test_the_realistic_workflow_goes_from_running_to_completed(server: KeyedServer):
    document = (
        "# Release notes\n\n## Fixes\n\nThe exporter no longer drops rows. Retries back off.\n\n"
        "## Features\n\nNew dashboard.\n"
    )
    started = server.http.post(
        f"{server.url}/workflows/document-summary/executions",
        data=document.encode(),
        headers={"Content-Type": "text/markdown"},
        timeout=10,
    )
    assert (started.status_code, started.json()["status"]) == (202, "RUNNING")
    url = server.url + started.headers["Location"]
    seen = [server.http.get(url, timeout=10).json()["status"]]
    done = wait_until(lambda: (r := server.http.get(url, timeout=10).json())["status"] == "COMPLETED" and r)
    assert seen[0] in {"RUNNING", "COMPLETED"}
    assert done["output"]["title"] == "Release notes"
    assert done["statusVariables"]["sectionCount"] == 2


Received = list[tuple[str, str, str]]


def stream_events(
    server: KeyedServer,
    url: str,
    last_event_id: str | None = None,
    until: Callable[[Received], bool] | None = None,
) -> Received:
    """(type, id, data) of each event on one connection, until the server closes it or `until` holds."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    received: Received = []
    with server.http.get(url, headers=headers, stream=True, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        # chunk_size=1: hand each line over as it arrives, not once 512 bytes have.
        for line in response.iter_lines(chunk_size=1, decode_unicode=True):
            if line == "" and "event" in fields:  # a blank line ends an event
                received.append((fields["event"], fields["id"], fields["data"]))
                if until is not None and until(received):
                    break
                fields = {}
            elif line and not line.startswith((":", "retry:")):
                name, _, value = line.partition(": ")
                fields[name] = value
    return received


def waiting_with_everything_sent(received: Received) -> bool:
    """The workflow waits in WaitForAgentPool and the client has every snapshot: nothing new will come
    until the wait ends."""
    kinds = {kind for kind, _, _ in received}
    waiting = any(
        '"currentNode":"WaitForAgentPool"' in data for kind, _, data in received if kind == "progress"
    )
    return waiting and {"status", "variables"} <= kinds


def test_watch_a_workflows_event_stream_from_start_to_completed(server: KeyedServer):
    started = server.http.post(
        f"{server.url}/workflows/ticket-triage/executions", json={**TICKET, "delaySeconds": 1}, timeout=10
    ).json()
    # One connection: the local server keeps it open across the function's responses, as a stream.
    received = stream_events(server, f"{server.url}/executions/{started['executionId']}/events")
    kinds = [kind for kind, _, _ in received]
    assert kinds[-1] == "completed"  # and the server closed the stream after it
    assert "progress" in kinds
    assert kinds.index("node_started") < kinds.index("completed")
    assert len({event_id for _, event_id, _ in received}) == len(received)


def test_a_client_reconnecting_mid_run_gets_only_what_it_missed(server: KeyedServer):
    # The stream function's first container starts now, not during the workflow's two-second wait.
    unknown = server.http.get(f"{server.url}/executions/{uuid.uuid4()}/events", timeout=30)
    assert unknown.status_code == 404
    started = server.http.post(
        f"{server.url}/workflows/ticket-triage/executions", json={**TICKET, "delaySeconds": 2}, timeout=10
    ).json()
    url = f"{server.url}/executions/{started['executionId']}/events"
    # Drop the connection while the workflow waits: the function's next responses have nothing new.
    before = stream_events(server, url, until=waiting_with_everything_sent)
    after = stream_events(server, url, last_event_id=before[-1][1])
    assert after[-1][0] == "completed"
    assert not {event_id for _, event_id, _ in before} & {event_id for _, event_id, _ in after}
    node_ids = [
        int(event_id.split(".")[0]) for kind, event_id, _ in before + after if kind.startswith("node_")
    ]
    assert node_ids == sorted(set(node_ids)), "a node event came twice or out of order"


def test_cancel_over_http(server: KeyedServer):
    started = server.http.post(
        f"{server.url}/workflows/ticket-triage/executions", json={**TICKET, "delaySeconds": 60}, timeout=10
    ).json()
    cancelled = server.http.delete(f"{server.url}/executions/{started['executionId']}", timeout=10)
    assert cancelled.status_code == 200
    assert cancelled.json()["cancelled"] is True
    assert (
        server.http.get(f"{server.url}/executions/{started['executionId']}", timeout=10).json()["status"]
        == "CANCELLED"
    )


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("POST", "/workflows/nope/executions", {"json": {}}, 404, "workflow_not_found"),
        ("POST", "/workflows/nightly-report/executions", {"json": {}}, 403, "workflow_disabled"),
        ("POST", "/workflows/ticket-triage/executions?version=7", {"json": TICKET}, 404, "version_not_found"),
        ("POST", "/workflows/ticket-triage/executions", {"data": "{oops"}, 400, "malformed_json"),
        ("POST", "/workflows/ticket-triage/executions", {"json": [1]}, 400, "malformed_json"),
        (
            "POST",
            "/workflows/ticket-triage/executions?priority=101",
            {"json": TICKET},
            400,
            "invalid_parameter",
        ),
        (
            "POST",
            "/workflows/ticket-triage/executions",
            {"json": {"subject": ""}},
            422,
            "input_validation_failed",
        ),
        (
            "POST",
            "/workflows/ticket-triage/executions",
            {"json": {**TICKET, "body": "x" * 300_000}},
            413,
            "payload_too_large",
        ),
        (
            "POST",
            "/workflows/ticket-triage/executions",
            {"json": TICKET, "headers": {"Idempotency-Key": "k"}},
            400,
            "bad_request",
        ),
        ("GET", "/executions/00000000-0000-0000-0000-000000000000", {}, 404, "execution_not_found"),
        ("DELETE", "/executions/00000000-0000-0000-0000-000000000000", {}, 404, "execution_not_found"),
        ("GET", "/no/such/route", {}, 404, "route_not_found"),
        (
            "POST",
            "/workflows/ticket-triage/executions",
            {"json": TICKET, "headers": {"Accept": "image/png"}},
            406,
            "not_acceptable",
        ),
        ("GET", "/workflows/document-summary/start?document=x", {}, 405, "method_not_allowed"),
        (
            "POST",
            "/workflows/ticket-triage/executions",
            {"data": "a,b", "headers": {"Content-Type": "text/csv"}},
            415,
            "unsupported_media_type",
        ),
        (
            "POST",
            "/workflows/document-summary/executions",
            {"data": b"\xff\xfe", "headers": {"Content-Type": "image/png"}},
            415,
            "unsupported_media_type",
        ),
        ("GET", "/executions/not%20an%20id", {}, 400, "invalid_parameter"),
    ],
)
def test_errors_over_http_are_problem_documents(server: KeyedServer, method, path, kwargs, status, code):
    # The first request of a fresh server: two cold containers (the authorizer's, then the route's).
    response = server.http.request(method, server.url + path, timeout=30, **kwargs)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code


def test_search_over_http_as_the_readme_shows(server: KeyedServer):
    body = {**TICKET, "customerId": "42"}
    started = server.http.post(
        f"{server.url}/workflows/ticket-triage/executions", json=body, timeout=10
    ).json()
    # requests encodes the offset's '+' as %2B, as a client must (a bare '+' in a query means a space).
    since = datetime.fromisoformat(started["createdAt"]).astimezone(timezone(timedelta(hours=2))).isoformat()
    query = {"workflow": "ticket-triage", "input.customerId": "42", "since": since, "limit": "5"}
    found = server.http.get(f"{server.url}/executions", params=query, timeout=10)
    assert found.status_code == 200
    assert [item["executionId"] for item in found.json()["items"]] == [started["executionId"]]
    assert found.json()["items"][0]["links"]["self"] == f"/executions/{started['executionId']}"
    refused = server.http.get(f"{server.url}/executions?since=2026-11-23T12:00:00+02:00", timeout=10)
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_parameter")


def test_idempotency_conflicts_and_reuse_over_http(server: KeyedServer):
    url = f"{server.url}/workflows/ticket-triage/executions"
    headers = {"Idempotency-Key": "http-key", "X-On-Conflict": "FAIL"}
    first = server.http.post(url, json={**TICKET, "delaySeconds": 60}, headers=headers, timeout=10)
    assert first.status_code == 202
    conflict = server.http.post(url, json={**TICKET, "delaySeconds": 60}, headers=headers, timeout=10)
    assert (conflict.status_code, conflict.json()["code"]) == (409, "idempotency_conflict")
    reused = server.http.post(url, json=TICKET, headers=headers, timeout=10)
    assert (reused.status_code, reused.json()["code"]) == (422, "idempotency_key_reused")
    assert server.http.delete(server.url + first.headers["Location"], timeout=10).status_code == 200


def test_twenty_concurrent_keyed_requests_over_http_start_one_execution(server: KeyedServer):
    url = f"{server.url}/workflows/ticket-triage/executions"
    headers = {"Idempotency-Key": "burst", "X-On-Conflict": "RETURN_EXISTING"}
    body = {**TICKET, "delaySeconds": 60}
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(
            pool.map(lambda _: server.http.post(url, json=body, headers=headers, timeout=30), range(20))
        )
    ids = {r.json()["executionId"] for r in responses if r.status_code in (200, 202)}
    assert len(ids) == 1
    assert [r.status_code for r in responses].count(202) == 1
    assert server.http.delete(f"{server.url}/executions/{ids.pop()}", timeout=10).status_code == 200


def test_the_server_logs_one_json_line_per_request(cloud: LocalCloud):
    log = io.StringIO()
    with serving(cloud.stack, log=log) as server:
        requests.get(f"{server.url}/openapi.json", timeout=10)  # public: no key
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    requests_logged = [line for line in lines if line.get("message") == "request"]
    assert requests_logged == [
        {**requests_logged[0], "method": "GET", "path": "/openapi.json", "status": 200}
    ]
    assert requests_logged[0]["duration_ms"] >= 0


# The method each link's name implies, as the models' descriptions say (ExecutionLinks, WorkflowLinks).
LINK_METHODS = {"cancel": "DELETE", "start": "POST"}


def _links(document: object) -> list[tuple[str, str]]:
    """(name, href) of every `links` object anywhere in a JSON document."""
    found: list[tuple[str, str]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "links" and isinstance(value, dict):
                found.extend(value.items())
            else:
                found.extend(_links(value))
    elif isinstance(document, list):
        for item in document:
            found.extend(_links(item))
    return found


def test_every_link_a_response_gives_answers_the_method_its_name_implies(server: KeyedServer):
    started = server.http.post(f"{server.url}/workflows/ticket-triage/executions", json=TICKET, timeout=10)
    documents = [
        started.json(),
        server.http.get(f"{server.url}/workflows", timeout=10).json(),
        server.http.get(f"{server.url}/workflows/ticket-triage", timeout=10).json(),
        server.http.get(server.url + started.headers["Location"], timeout=10).json(),
        server.http.get(f"{server.url}/executions?workflow=ticket-triage", timeout=10).json(),
    ]
    links = sorted({link for document in documents for link in _links(document)})
    for name, href in links:
        response = server.http.request(LINK_METHODS.get(name, "GET"), server.url + href, json={}, timeout=10)
        assert response.status_code not in (404, 405), (name, href, response.text)
    assert {name for name, _ in links} == {"self", "cancel", "start", "executions"}


def test_an_html_form_starts_a_workflow_and_curls_json_labelled_as_a_form_still_does(server: KeyedServer):
    url = f"{server.url}/workflows/ticket-triage/executions"
    # requests sends a dict as application/x-www-form-urlencoded, as a browser submits a form.
    form = server.http.post(
        url, data={"subject": "Invoice", "customerTier": "pro", "delaySeconds": "0"}, timeout=10
    )
    assert form.status_code == 202, form.text
    detail = server.http.get(server.url + form.headers["Location"], timeout=10).json()
    assert detail["input"] == {"subject": "Invoice", "customerTier": "pro", "delaySeconds": 0}
    # What curl -d '{...}' sends: JSON, labelled as a form.
    curl_like = server.http.post(
        url,
        data=json.dumps(TICKET),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert curl_like.status_code == 202, curl_like.text
