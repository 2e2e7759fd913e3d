"""The local server's HTTP front: malformed requests are refused with problem documents and the server
stays up; its log is one JSON object per line, each naming who wrote it."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from flowport.local.cloud import LocalCloud
from flowport.local.server import serving

from tests.support import TICKET, KeyedServer, keyed, wait_until

pytestmark = pytest.mark.e2e
START = b"POST /workflows/ticket-triage/executions HTTP/1.1\r\nHost: local\r\n"
BODY = json.dumps(TICKET).encode()


@pytest.fixture
def server(cloud: LocalCloud) -> Iterator[KeyedServer]:
    with serving(cloud.stack, log=io.StringIO()) as running:
        yield keyed(running)


def _exchange(server: KeyedServer, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the answer until the server closes (a hang fails on the socket's timeout)."""
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)
    }
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (START + b"Content-Length: abc\r\n\r\n" + BODY, 400, "malformed_request"),
        (START + b"Content-Length: -1\r\n\r\n" + BODY, 400, "malformed_request"),
        (START + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\n" + BODY, 400, "malformed_request"),
        (START + b"Content-Length: 1e3\r\n\r\n" + BODY, 400, "malformed_request"),
        (START + b"X-Big: " + b"a" * 12_000 + b"\r\nContent-Length: 0\r\n\r\n", 431, "headers_too_large"),
        (b"GET /workflows?" + b"q" * 12_000 + b" HTTP/1.1\r\nHost: local\r\n\r\n", 431, "headers_too_large"),
        (b"\x00\x01 not http at all\r\n\r\n", 400, "malformed_request"),
        (b"TRACE /workflows HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n", 404, "route_not_found"),
    ],
    ids=["not a number", "negative", "two lengths", "exponent", "headers", "long url", "garbage", "trace"],
)
def test_a_malformed_request_gets_a_problem_document_and_the_server_stays_up(
    server: KeyedServer, request_bytes: bytes, status: int, code: str
):
    answered, headers, body = _exchange(server, request_bytes)
    assert (answered, headers["content-type"]) == (status, "application/problem+json"), body
    assert json.loads(body)["code"] == code
    assert server.http.get(f"{server.url}/workflows", timeout=10).status_code == 200


def test_every_log_line_is_one_json_object_naming_its_function(cloud: LocalCloud):
    log = io.StringIO()
    with serving(cloud.stack, log=log) as running:
        server = keyed(running)
        started = server.http.post(
            f"{server.url}/workflows/ticket-triage/executions", json={**TICKET, "delaySeconds": 0}, timeout=30
        ).json()
        status_url = f"{server.url}/executions/{started['executionId']}"
        wait_until(lambda: server.http.get(status_url, timeout=30).json()["status"] == "COMPLETED")
        # The sync function's last line is written after the record it applied: wait for it too.
        wait_until(lambda: log.getvalue().count('"message": "status change"') >= 2)
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    assert all(isinstance(line, dict) for line in lines)
    by_function = {line.get("function") for line in lines}
    assert {"StartFunction", "StatusFunction", "SyncFunction"} <= by_function
    status_changes = [line for line in lines if line.get("message") == "status change"]
    assert {line["function"] for line in status_changes} == {"SyncFunction"}
    assert {line["function_name"] for line in status_changes} == {cloud.stack.functions["SyncFunction"].name}
