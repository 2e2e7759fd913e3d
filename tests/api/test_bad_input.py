"""Malformed requests on every route, through the handlers with the real event files: each is a 4xx
problem document with a `code`, never a 5xx (a handful more go over HTTP in tests/e2e/test_bad_input_http.py).
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass, field
from typing import Any

import pytest
from flowport.local.cloud import LocalCloud

from tests.support import Api, load_event, with_request

UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"
NO_KEY: dict[str, str | None] = {"Idempotency-Key": None, "X-On-Conflict": None}


@dataclass
class Bad:
    """One malformed request: an event file changed as a client would change its request."""

    name: str
    event: str
    status: int
    code: str
    path: dict[str, str] | None = None
    query: dict[str, str] | None = None
    headers: dict[str, str | None] = field(default_factory=dict)
    body: str | None = None
    base64_body: bytes | None = None  # sent as API Gateway sends a binary body: base64, flagged so
    flagged_base64: bool = False  # `body` as it is, flagged as base64
    resource: str | None = None  # another route of the same function, from this event
    method: str | None = None  # another method on the event's path (API Gateway sends it to the ANY route)
    repeated: dict[str, list[str]] = field(default_factory=dict)  # a query name given more than once

    def build(self) -> dict[str, Any]:
        event = copy.deepcopy(load_event(self.event))
        if self.resource is not None:
            event["resource"] = event["requestContext"]["resourcePath"] = self.resource
        if self.method is not None:
            event["httpMethod"] = event["requestContext"]["httpMethod"] = self.method
        headers = {**NO_KEY, **self.headers} if self.event == "start-execution" else self.headers
        event = with_request(
            event, path_parameters=self.path, query=self.query, headers=headers, body=self.body
        )
        for name, values in self.repeated.items():  # as API Gateway: every value, and the last alone
            event["multiValueQueryStringParameters"] = {**(event["multiValueQueryStringParameters"] or {})}
            event["multiValueQueryStringParameters"][name] = values
            event["queryStringParameters"] = {**(event["queryStringParameters"] or {}), name: values[-1]}
        if self.base64_body is not None:
            event["body"] = base64.b64encode(self.base64_body).decode()
            event["isBase64Encoded"] = True
        if self.flagged_base64:
            event["isBase64Encoded"] = True
        return event


START, BY_GET, GET, CANCEL = "start-execution", "start-execution-by-get", "get-execution", "cancel-execution"
HISTORY, EVENTS, SEARCH = "get-execution-history", "stream-execution-events", "list-executions"
TICKET_JSON = '{"subject": "Login fails", "customerTier": "pro"}'

CASES = [
    # POST /workflows/{name}/executions: bodies
    Bad("body not json", START, 400, "malformed_json", body="{oops"),
    Bad("body a json array", START, 400, "malformed_json", body="[1, 2]"),
    Bad("body a json string", START, 400, "malformed_json", body='"text"'),
    Bad("body json null", START, 400, "malformed_json", body="null"),
    Bad("body truncated", START, 400, "malformed_json", body=TICKET_JSON[:-3]),
    Bad("body two documents", START, 400, "malformed_json", body=TICKET_JSON + TICKET_JSON),
    Bad("body NaN", START, 400, "malformed_json", body='{"subject": NaN, "customerTier": "pro"}'),
    Bad("body Infinity", START, 400, "malformed_json", body='{"subject": "x", "n": -Infinity}'),
    Bad("body nested 10000 deep", START, 400, "malformed_json", body='{"a":' * 10_000 + "1" + "}" * 10_000),
    Bad("body a lone surrogate", START, 400, "malformed_json", body='{"subject": "\\ud800"}'),
    Bad("body fails the schema", START, 422, "input_validation_failed", body='{"subject": 7}'),
    Bad("body over 256 KiB", START, 413, "payload_too_large", body='{"subject": "' + "x" * 270_000 + '"}'),
    Bad("body bad base64", START, 400, "bad_request", body="not base64!", flagged_base64=True),
    Bad("body latin-1 bytes", START, 400, "malformed_json", base64_body=b'{"subject": "caf\xe9"}'),
    Bad(
        "form field repeated",
        START,
        400,
        "malformed_form",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body="subject=a&subject=b&customerTier=pro",
    ),
    Bad(
        "form field without =",
        START,
        400,
        "malformed_form",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body="subject",
    ),
    Bad(
        "form not utf-8",
        START,
        400,
        "malformed_form",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body="subject=%C3%28&customerTier=pro",
    ),
    Bad("body csv", START, 415, "unsupported_media_type", headers={"Content-Type": "text/csv"}, body="a,b"),
    Bad("content type garbage", START, 415, "unsupported_media_type", headers={"Content-Type": ";;;/"}),
    Bad(
        "content-variable body not utf-8",
        START,
        415,
        "unsupported_media_type",
        path={"name": "document-summary"},
        headers={"Content-Type": "text/markdown"},
        base64_body=b"\xff\xfe\x00",
    ),
    Bad(
        "document only whitespace",
        START,
        422,
        "input_validation_failed",
        path={"name": "document-summary"},
        headers={"Content-Type": "text/markdown"},
        body=" \n\t\r\n",
    ),
    # POST /workflows/{name}/executions: headers
    Bad(
        "key of 256 characters",
        START,
        400,
        "invalid_parameter",
        headers={"Idempotency-Key": "k" * 256, "X-On-Conflict": "FAIL"},
        body=TICKET_JSON,
    ),
    Bad(
        "key not ascii",
        START,
        400,
        "invalid_parameter",
        headers={"Idempotency-Key": "ключ", "X-On-Conflict": "FAIL"},
        body=TICKET_JSON,
    ),
    Bad(
        "key with a control character",
        START,
        400,
        "invalid_parameter",
        headers={"Idempotency-Key": "a\tb", "X-On-Conflict": "FAIL"},
        body=TICKET_JSON,
    ),
    Bad(
        "key empty",
        START,
        400,
        "invalid_parameter",
        headers={"Idempotency-Key": "", "X-On-Conflict": "FAIL"},
        body=TICKET_JSON,
    ),
    Bad(
        "legacy key empty",
        START,
        400,
        "invalid_parameter",
        headers={"X-Idempotency-Key": ""},
        body=TICKET_JSON,
    ),
    Bad(
        "key without X-On-Conflict",
        START,
        400,
        "bad_request",
        headers={"Idempotency-Key": "k"},
        body=TICKET_JSON,
    ),
    Bad(
        "X-On-Conflict without key",
        START,
        400,
        "bad_request",
        headers={"X-On-Conflict": "FAIL"},
        body=TICKET_JSON,
    ),
    Bad(
        "X-On-Conflict unknown",
        START,
        400,
        "invalid_parameter",
        headers={"Idempotency-Key": "k", "X-On-Conflict": "MAYBE"},
        body=TICKET_JSON,
    ),
    Bad(
        "two different keys",
        START,
        400,
        "bad_request",
        body=TICKET_JSON,
        headers={"Idempotency-Key": "a", "X-Idempotency-Key": "b", "X-On-Conflict": "FAIL"},
    ),
    Bad("accept image/png", START, 406, "not_acceptable", headers={"Accept": "image/png"}, body=TICKET_JSON),
    Bad(
        "accept of 2000 characters",
        START,
        400,
        "invalid_parameter",
        headers={"Accept": "text/" + "x" * 2000},
        body=TICKET_JSON,
    ),
    # POST /workflows/{name}/executions: query and path values
    Bad(
        "priority not a number", START, 400, "invalid_parameter", query={"priority": "high"}, body=TICKET_JSON
    ),
    Bad("priority 100", START, 400, "invalid_parameter", query={"priority": "100"}, body=TICKET_JSON),
    Bad("priority negative", START, 400, "invalid_parameter", query={"priority": "-1"}, body=TICKET_JSON),
    Bad("version 0", START, 400, "invalid_parameter", query={"version": "0"}, body=TICKET_JSON),
    Bad("version 1.5", START, 400, "invalid_parameter", query={"version": "1.5"}, body=TICKET_JSON),
    Bad("version unknown", START, 404, "version_not_found", query={"version": "99"}, body=TICKET_JSON),
    Bad(
        "correlation id a lone surrogate",
        START,
        400,
        "invalid_parameter",
        query={"correlationId": "\ud800"},
        body=TICKET_JSON,
    ),
    Bad(
        "correlation id of 129",
        START,
        400,
        "invalid_parameter",
        query={"correlationId": "c" * 129},
        body=TICKET_JSON,
    ),
    Bad("workflow unknown", START, 404, "workflow_not_found", path={"name": "no-such-flow"}, body="{}"),
    Bad(
        "workflow path traversal",
        START,
        404,
        "workflow_not_found",
        path={"name": "../../etc/passwd"},
        body="{}",
    ),
    Bad("workflow sql-looking", START, 404, "workflow_not_found", path={"name": "x' OR '1'='1"}, body="{}"),
    Bad("workflow unicode", START, 404, "workflow_not_found", path={"name": "工作流"}, body="{}"),
    Bad("workflow name of 64", START, 400, "invalid_parameter", path={"name": "w" * 64}, body="{}"),
    Bad("workflow disabled", START, 403, "workflow_disabled", path={"name": "nightly-report"}, body="{}"),
    # GET /workflows/{name}/start
    Bad("start by get not opted in", BY_GET, 405, "method_not_allowed", path={"name": "document-summary"}),
    Bad(
        "start by get, integer field not one",
        BY_GET,
        422,
        "input_validation_failed",
        query={"subject": "s", "customerTier": "pro", "delaySeconds": "soon"},
    ),
    Bad(
        "start by get, priority text",
        BY_GET,
        400,
        "invalid_parameter",
        query={"subject": "s", "customerTier": "pro", "priority": "1e3"},
    ),
    Bad("start by get, unknown workflow", BY_GET, 404, "workflow_not_found", path={"name": "$(reboot)"}),
    # Query parameters a route does not take, and single-valued ones given twice: on every route
    Bad("start unknown parameter", START, 400, "invalid_parameter", query={"priorty": "5"}, body=TICKET_JSON),
    Bad("start repeated priority", START, 400, "invalid_parameter", repeated={"priority": ["1", "2"]}),
    Bad(
        "start by get repeated field",
        BY_GET,
        400,
        "invalid_parameter",
        query={"customerTier": "pro"},
        repeated={"subject": ["a", "b"]},
    ),
    Bad("status unknown parameter", GET, 400, "invalid_parameter", query={"include": "io"}),
    Bad("cancel unknown parameter", CANCEL, 400, "invalid_parameter", query={"force": "true"}),
    Bad("history unknown parameter", HISTORY, 400, "invalid_parameter", query={"includ": "io"}),
    Bad("history repeated limit", HISTORY, 400, "invalid_parameter", repeated={"limit": ["1", "2"]}),
    Bad("events unknown parameter", EVENTS, 400, "invalid_parameter", query={"since": "1"}),
    Bad(
        "search repeated status", SEARCH, 400, "invalid_parameter", repeated={"status": ["QUEUED", "RUNNING"]}
    ),
    Bad("search repeated limit", SEARCH, 400, "invalid_parameter", repeated={"limit": ["1", "2"]}),
    Bad(
        "search repeated input field",
        SEARCH,
        400,
        "invalid_parameter",
        query={"workflow": "ticket-triage"},
        repeated={"input.customerId": ["1", "2"]},
    ),
    Bad(
        "workflows unknown parameter",
        GET,
        400,
        "invalid_parameter",
        resource="/workflows",
        query={"all": "1"},
    ),
    Bad(
        "openapi unknown parameter", GET, 400, "invalid_parameter", resource="/openapi.json", query={"v": "3"}
    ),
    # Methods the path does not have: 405 (each path's ANY route; tests/e2e/test_bad_input_http.py has more)
    Bad("post on a status route", GET, 405, "method_not_allowed", method="POST"),
    Bad("put on a status route", GET, 405, "method_not_allowed", method="PUT"),
    Bad("patch on history", HISTORY, 405, "method_not_allowed", method="PATCH"),
    Bad("head where get exists", SEARCH, 405, "method_not_allowed", method="HEAD"),
    Bad("delete on the workflows", GET, 405, "method_not_allowed", resource="/workflows", method="DELETE"),
    Bad("get on the start route", START, 405, "method_not_allowed", method="GET", body=""),
    # GET /executions/{executionId}
    Bad("id with a space", GET, 400, "invalid_parameter", path={"executionId": "has space"}),
    Bad("id of 81", GET, 400, "invalid_parameter", path={"executionId": "x" * 81}),
    Bad("id sql-looking", GET, 400, "invalid_parameter", path={"executionId": "1' OR '1'='1"}),
    Bad("id with a NUL", GET, 400, "invalid_parameter", path={"executionId": "abc\x00def"}),
    Bad("id unicode", GET, 400, "invalid_parameter", path={"executionId": "é"}),
    Bad("id unknown", GET, 404, "execution_not_found", path={"executionId": UNKNOWN_ID}),
    # DELETE /executions/{executionId}
    Bad("cancel id traversal", CANCEL, 400, "invalid_parameter", path={"executionId": "../executions"}),
    Bad("cancel id unknown", CANCEL, 404, "execution_not_found", path={"executionId": UNKNOWN_ID}),
    # GET /executions/{executionId}/history
    Bad("history limit 0", HISTORY, 400, "invalid_parameter", query={"limit": "0"}),
    Bad("history limit 101", HISTORY, 400, "invalid_parameter", query={"limit": "101"}),
    Bad("history include all", HISTORY, 400, "invalid_parameter", query={"include": "all"}),
    Bad("history token garbled", HISTORY, 400, "invalid_next_token", query={"nextToken": "eyJub3QiOiJ1cyJ9"}),
    Bad("history token of 5000", HISTORY, 400, "invalid_parameter", query={"nextToken": "t" * 5000}),
    Bad("history id unknown", HISTORY, 404, "execution_not_found", path={"executionId": UNKNOWN_ID}),
    # GET /executions/{executionId}/events
    Bad(
        "events last id garbled", EVENTS, 400, "invalid_last_event_id", headers={"Last-Event-ID": "<script>"}
    ),
    Bad("events last id of 65", EVENTS, 400, "invalid_parameter", headers={"Last-Event-ID": "1" * 65}),
    Bad(
        "events last id query garbled",
        EVENTS,
        400,
        "invalid_last_event_id",
        headers={"Last-Event-ID": None},
        query={"lastEventId": "1.2.3"},
    ),
    Bad(
        "events id unknown",
        EVENTS,
        404,
        "execution_not_found",
        path={"executionId": UNKNOWN_ID},
        headers={"Last-Event-ID": None},
    ),
    # GET /executions
    Bad("search status unknown", SEARCH, 400, "invalid_parameter", query={"status": "DONE"}),
    Bad("search status injection", SEARCH, 400, "invalid_parameter", query={"status": "COMPLETED' OR 1=1"}),
    Bad("search limit 1000", SEARCH, 400, "invalid_parameter", query={"limit": "1000"}),
    Bad("search since not a date", SEARCH, 400, "invalid_parameter", query={"since": "yesterday"}),
    Bad(
        "search since without offset",
        SEARCH,
        400,
        "invalid_parameter",
        query={"since": "2026-11-23T10:00:00"},
    ),
    Bad("search since a month", SEARCH, 400, "invalid_parameter", query={"since": "2026-11"}),
    Bad("search until not a day", SEARCH, 400, "invalid_parameter", query={"until": "2026-02-30"}),
    Bad(
        "search since a space for +",
        SEARCH,
        400,
        "invalid_parameter",
        query={"since": "2026-11-23T10:00:00 02:00"},
    ),
    Bad(
        "search since after until",
        SEARCH,
        400,
        "invalid_parameter",
        query={"since": "2026-11-23T10:00:00Z", "until": "2026-11-22T10:00:00Z"},
    ),
    Bad("search unknown parameter", SEARCH, 400, "invalid_parameter", query={"stauts": "RUNNING"}),
    Bad(
        "search input field without workflow",
        SEARCH,
        400,
        "invalid_parameter",
        query={"input.customerId": "42"},
    ),
    Bad(
        "search input field undeclared",
        SEARCH,
        400,
        "field_not_searchable",
        query={"workflow": "ticket-triage", "input.__proto__": "x"},
    ),
    Bad("search token garbled", SEARCH, 400, "invalid_next_token", query={"nextToken": "%%%"}),
    Bad("search workflow unknown", SEARCH, 404, "workflow_not_found", query={"workflow": "nope"}),
    Bad("search correlation id of 129", SEARCH, 400, "invalid_parameter", query={"correlationId": "c" * 129}),
    # GET /workflows/{name}
    Bad(
        "workflow settings unknown",
        GET,
        404,
        "workflow_not_found",
        resource="/workflows/{name}",
        path={"name": "<img src=x>"},
    ),
    Bad(
        "workflow settings name of 64",
        GET,
        400,
        "invalid_parameter",
        resource="/workflows/{name}",
        path={"name": "n" * 64},
    ),
]


@pytest.fixture(scope="module")
def shared_api(shared_cloud: LocalCloud) -> Api:
    return Api(shared_cloud.stack)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_malformed_request_is_a_4xx_problem_document(shared_api: Api, case: Bad):
    response = shared_api.call(case.build())
    assert 400 <= response.status < 500, response.body
    assert response.headers["content-type"] == "application/problem+json", response.body
    assert (response.status, response.problem_code) == (case.status, case.code), response.body


def test_every_route_has_bad_input_here_or_over_http():
    covered = {
        (load_event(case.event)["httpMethod"], case.resource or load_event(case.event)["resource"])
        for case in CASES
    }
    over_http = {("GET", "/workflows")}  # no input to get wrong: tests/e2e/test_bad_input_http.py
    assert len(CASES) >= 40
    assert covered | over_http == {
        ("POST", "/workflows/{name}/executions"),
        ("GET", "/workflows/{name}/start"),
        ("GET", "/executions/{executionId}"),
        ("DELETE", "/executions/{executionId}"),
        ("GET", "/executions/{executionId}/history"),
        ("GET", "/executions/{executionId}/events"),
        ("GET", "/executions"),
        ("GET", "/workflows"),
        ("GET", "/workflows/{name}"),
        ("GET", "/openapi.json"),
    }


@pytest.mark.parametrize(
    ("event", "method", "allow"),
    [
        (GET, "POST", "GET, DELETE"),
        (CANCEL, "PATCH", "GET, DELETE"),
        (SEARCH, "HEAD", "GET"),
        (START, "GET", "POST"),
    ],
)
def test_a_405_names_the_methods_of_the_path_in_allow(shared_api: Api, event: str, method: str, allow: str):
    response = shared_api.call(Bad("", event, 405, "", method=method).build())
    assert (response.status, response.headers["allow"]) == (405, allow), response.body
    assert method in response.json()["detail"]


@pytest.mark.parametrize(
    ("event", "query", "repeated", "field_name", "message"),
    [
        (SEARCH, None, {"status": ["QUEUED", "RUNNING"]}, "status", "repeated"),
        (BY_GET, {"customerTier": "pro"}, {"subject": ["a", "b"]}, "subject", "repeated"),
        (GET, {"verbose": "1"}, {}, "verbose", "unknown"),
    ],
)
def test_a_refused_query_parameter_is_named_with_why(
    shared_api: Api,
    event: str,
    query: dict[str, str] | None,
    repeated: dict[str, list[str]],
    field_name: str,
    message: str,
):
    response = shared_api.call(Bad("", event, 400, "", query=query, repeated=repeated).build())
    assert (response.status, response.problem_code) == (400, "invalid_parameter"), response.body
    problem = response.json()
    assert field_name in problem["detail"]
    assert message in problem["detail"]
    assert [(e["field"], message in e["message"]) for e in problem["errors"]] == [
        (f"/query/{field_name}", True)
    ]


@pytest.mark.parametrize(
    ("headers", "field_name"),
    [
        ({"Idempotency-Key": "", "X-On-Conflict": "FAIL"}, "/header/idempotency-key"),
        ({"Idempotency-Key": ""}, "/header/idempotency-key"),
        ({"X-Idempotency-Key": "", "X-On-Conflict": "RETURN_EXISTING"}, "/header/x-idempotency-key"),
        # Only whitespace: nothing is left of the value once the whitespace around it is dropped.
        ({"Idempotency-Key": "   ", "X-On-Conflict": "FAIL"}, "/header/idempotency-key"),
        ({"X-Idempotency-Key": " \t ", "X-On-Conflict": "FAIL"}, "/header/x-idempotency-key"),
    ],
)
def test_an_empty_idempotency_key_is_refused_as_empty(
    shared_api: Api, headers: dict[str, str | None], field_name: str
):
    response = shared_api.call(Bad("", START, 400, "", headers=headers, body=TICKET_JSON).build())
    assert (response.status, response.problem_code) == (400, "invalid_parameter"), response.body
    problem = response.json()
    assert problem["detail"] == f"Invalid request parameter(s): {field_name} (empty)"
    assert [(e["field"], e["message"].split(":")[0]) for e in problem["errors"]] == [(field_name, "empty")]


def test_x_on_conflict_without_a_key_says_no_key_arrived(shared_api: Api):
    """`curl -H 'Idempotency-Key:'` removes the header instead of sending it empty: the server sees none."""
    response = shared_api.call(
        Bad("", START, 400, "", headers={"X-On-Conflict": "FAIL"}, body=TICKET_JSON).build()
    )
    assert (response.status, response.problem_code) == (400, "bad_request")
    assert "no Idempotency-Key" in response.json()["detail"]
    assert "curl" in response.json()["detail"]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("2026-11-23T10:00:00", "has no offset: add Z or one such as +01:00 (sent as %2B01:00)"),
        ("2026-11-23T10:00:00 02:00", "a space where the offset's + was: send + as %2B"),
        ("yesterday", "expected a date (2026-12-01, a UTC day) or a date-time with Z or an offset"),
        ("2026-02-30", "expected a date (2026-12-01, a UTC day) or a date-time with Z or an offset"),
    ],
)
def test_a_bad_instant_is_refused_saying_what_is_wrong(shared_api: Api, value: str, says: str):
    response = shared_api.call(Bad("", SEARCH, 400, "", query={"since": value}).build())
    assert (response.status, response.problem_code) == (400, "invalid_parameter"), response.body
    [problem] = response.json()["errors"]
    assert problem["field"] == "/query/since"
    assert says in problem["message"], problem["message"]
