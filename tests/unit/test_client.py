"""flowport.client on httpx's MockTransport: what it sends, what it retries, what it raises."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest
from flowport.client import FlowportApiError, FlowportClient

SUMMARY = {"executionId": "e-1", "workflow": "ticket-triage", "version": 2, "status": "QUEUED", "priority": 0}


def problem(status: int, code: str, **headers: str) -> httpx.Response:
    body = {"type": "about:blank", "title": code, "status": status, "code": code, "detail": f"{code} detail"}
    return httpx.Response(status, json=body, headers={"Content-Type": "application/problem+json", **headers})


class Recorded:
    """A scripted server: answers in turn, and every request it was sent."""

    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)

    def client(self, **options: float) -> FlowportClient:
        sleep: Callable[[float], None] = self.sleeps.append
        return FlowportClient(
            "http://flowport.test/v1",
            "fpk_test",
            transport=httpx.MockTransport(self.handler),
            sleep=sleep,
            **options,
        )


def test_a_start_sends_the_input_options_key_and_credential():
    server = Recorded(httpx.Response(200, json=SUMMARY, headers={"Idempotent-Replayed": "true"}))
    started = server.client().start(
        "ticket-triage",
        {"subject": "x"},
        version=2,
        correlation_id="order-7",
        priority=40,
        idempotency_key="k1",
    )
    (request,) = server.requests
    assert (request.method, request.url.path) == ("POST", "/v1/workflows/ticket-triage/executions")
    assert dict(request.url.params) == {"version": "2", "correlationId": "order-7", "priority": "40"}
    assert json.loads(request.content) == {"subject": "x"}
    assert (request.headers["Idempotency-Key"], request.headers["X-On-Conflict"]) == ("k1", "RETURN_EXISTING")
    assert request.headers["X-API-Key"] == "fpk_test"
    assert (started.execution_id, started.status, started.replayed) == ("e-1", "QUEUED", True)


def test_a_throttled_read_is_retried_after_retry_after_then_answers():
    server = Recorded(
        problem(429, "too_many_requests", **{"Retry-After": "3"}),
        problem(503, "service_unavailable"),
        httpx.Response(200, json={**SUMMARY, "status": "RUNNING"}),
    )
    assert server.client(backoff=0.5).get("e-1").status == "RUNNING"
    assert len(server.requests) == 3
    assert 3 <= server.sleeps[0] <= 3.5  # Retry-After, with up to one backoff of jitter
    assert 0 <= server.sleeps[1] <= 2.0  # no Retry-After: full jitter over 0.5 * 2^2


def test_retries_are_bounded_and_end_in_the_problem():
    server = Recorded(*[problem(503, "service_unavailable") for _ in range(3)])
    with pytest.raises(FlowportApiError) as raised:
        server.client(max_retries=2).get("e-1")
    assert (raised.value.status, raised.value.code, raised.value.retryable) == (
        503,
        "service_unavailable",
        True,
    )
    assert len(server.requests) == 3


def test_a_start_without_a_key_is_never_sent_twice():
    server = Recorded(problem(503, "service_unavailable"))
    with pytest.raises(FlowportApiError):
        server.client().start("ticket-triage", {"subject": "x"})
    assert len(server.requests) == 1
    keyed = Recorded(problem(503, "service_unavailable"), httpx.Response(202, json=SUMMARY))
    assert keyed.client().retry("e-1", idempotency_key="r1").execution_id == "e-1"
    assert [r.headers["Idempotency-Key"] for r in keyed.requests] == ["r1", "r1"]


def test_an_error_carries_its_problem_document():
    body = {"status": 409, "code": "execution_not_retryable", "detail": "it completed", "executionId": "e-1"}
    server = Recorded(httpx.Response(409, json=body))
    with pytest.raises(FlowportApiError) as raised:
        server.client().retry("e-1")
    assert (raised.value.code, raised.value.detail, raised.value.retryable) == (
        "execution_not_retryable",
        "it completed",
        False,
    )
    assert raised.value.problem["executionId"] == "e-1"


def test_search_follows_next_tokens_to_the_last_page():
    server = Recorded(
        httpx.Response(200, json={"items": [SUMMARY], "nextToken": "t1"}),
        httpx.Response(200, json={"items": [], "nextToken": "t2"}),  # a page may be empty, and not the last
        httpx.Response(200, json={"items": [{**SUMMARY, "executionId": "e-2"}]}),
    )
    found = [e.execution_id for e in server.client().search(workflow="ticket-triage", page_size=1)]
    assert found == ["e-1", "e-2"]
    assert [r.url.params.get("nextToken") for r in server.requests] == [None, "t1", "t2"]
    assert {r.url.params["workflow"] for r in server.requests} == {"ticket-triage"}


def test_an_event_stream_cut_short_resumes_after_its_last_event():
    first = 'id: 1.a\nevent: status\ndata: {"status":"RUNNING"}\n\n'
    rest = 'id: 2.b\nevent: completed\ndata: {"executionId":"e-1","status":"COMPLETED","output":{"q":1}}\n\n'
    server = Recorded(
        httpx.Response(200, text=first, headers={"Content-Type": "text/event-stream"}),
        httpx.Response(200, text=rest, headers={"Content-Type": "text/event-stream"}),
    )
    final = server.client().wait("e-1")
    assert (final.status, final.output) == ("COMPLETED", {"q": 1})
    assert [r.headers.get("Last-Event-ID") for r in server.requests] == [None, "1.a"]


def test_the_client_imports_without_the_servers_packages():
    blocked = ["aws_lambda_powertools", "pydantic", "boto3", "botocore", "jsonschema", "moto"]
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "import flowport.client\n"
        "print(flowport.client.FlowportClient.__name__)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.strip()) == (0, "FlowportClient"), done.stderr
