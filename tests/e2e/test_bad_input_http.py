"""Malformed requests only HTTP can make (methods, raw bytes, percent-encodings), against the local server:
each a 4xx problem document. The table of malformed values per route is tests/api/test_bad_input.py."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from flowport.local.cloud import LocalCloud
from flowport.local.server import serving

from tests.support import KeyedServer, keyed

pytestmark = pytest.mark.e2e

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(shared_cloud: LocalCloud) -> Iterator[KeyedServer]:
    with serving(shared_cloud.stack, log=io.StringIO()) as running:
        yield keyed(running)


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code"),
    [
        # Methods API Gateway does not have reach no function (a real method a path lacks is 405: below).
        ("TRACE", "/workflows", {}, b"", 404, "route_not_found"),
        ("BREW", "/executions", {}, b"", 404, "route_not_found"),
        ("PUT", "/workflows", {}, b"", 405, "method_not_allowed"),
        ("PATCH", "/executions/00000000-0000-0000-0000-000000000000", {}, b"{}", 405, "method_not_allowed"),
        (
            "POST",
            "/workflows/ticket-triage/executions",
            JSON,
            b'{"subject": "caf\xe9"}',
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/workflows/ticket-triage/executions",
            JSON,
            b'{"subject": "\\udc00"}',
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/workflows/ticket-triage/executions",
            JSON,
            b"\xef\xbb\xbf{}",
            422,
            "input_validation_failed",
        ),
        ("GET", "/executions/%ZZ", {}, b"", 400, "invalid_parameter"),
        # The function's router matches no route for a NUL in a path value: its 404 is the gateway's.
        ("GET", "/executions/abc%00def", {}, b"", 404, "route_not_found"),
        ("GET", "/executions?limit=%FF", {}, b"", 400, "invalid_parameter"),
        ("GET", "/workflows/%E5%B7%A5%E4%BD%9C", {}, b"", 404, "workflow_not_found"),
    ],
)
def test_a_malformed_http_request_is_a_4xx_problem_document(
    server: KeyedServer, method: str, path: str, headers: dict[str, str], body: bytes, status: int, code: str
):
    response = server.http.request(method, server.url + path, headers=headers, data=body, timeout=10)
    assert response.headers["Content-Type"] == "application/problem+json", response.text
    assert (response.status_code, response.json()["code"]) == (status, code), response.text


EXECUTION = "/executions/00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", EXECUTION, "GET, DELETE"),
        ("PUT", EXECUTION, "GET, DELETE"),
        ("PATCH", EXECUTION, "GET, DELETE"),
        ("HEAD", EXECUTION, "GET, DELETE"),
        ("OPTIONS", EXECUTION, "GET, DELETE"),
        ("POST", f"{EXECUTION}/history", "GET"),
        ("DELETE", f"{EXECUTION}/events", "GET"),
        ("DELETE", "/workflows", "GET"),
        ("HEAD", "/workflows", "GET"),
        ("POST", "/workflows/ticket-triage", "GET"),
        ("GET", "/workflows/ticket-triage/executions", "POST"),
        ("PUT", "/workflows/ticket-triage/executions", "POST"),
        ("POST", "/workflows/ticket-triage/start", "GET"),
        ("DELETE", "/executions", "GET"),
        ("POST", "/openapi.json", "GET"),
        # The one 405 of a method the path has: this workflow did not opt in, so its /start has none.
        ("GET", "/workflows/document-summary/start", ""),
    ],
)
def test_a_method_a_path_does_not_have_is_405_naming_the_methods_it_has(
    server: KeyedServer, method: str, path: str, allow: str
):
    response = server.http.request(method, server.url + path, timeout=10)
    assert response.status_code == 405, response.text
    assert response.headers["Allow"] == allow
    assert response.headers["Content-Type"] == "application/problem+json"
    if method != "HEAD":  # a HEAD answer has no body
        assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/executions?limit=1&limit=2", "limit"),
        ("/executions?status=QUEUED&status=RUNNING", "status"),
        ("/workflows/ticket-triage/start?subject=a&subject=b&customerTier=pro", "subject"),
        (f"{EXECUTION}/history?limit=5&limit=5", "limit"),
    ],
)
def test_a_parameter_given_twice_is_refused_as_repeated(server: KeyedServer, path: str, parameter: str):
    response = server.http.get(server.url + path, timeout=10)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_parameter"), response.text
    assert response.json()["detail"] == f"Query parameter(s) refused: {parameter} (repeated)"
    assert response.json()["errors"] == [
        {"field": f"/query/{parameter}", "message": "repeated (2 values): send it once"}
    ]
