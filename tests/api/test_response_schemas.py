"""Every route's answers against its own OpenAPI document: status, content type and body schema.

schemathesis (tests/e2e/test_fuzz.py) checks what its generated requests happen to reach; this drives each
route into each of its answers on purpose (a queued, running, completed, failed and cancelled execution,
a replay, pages with and without a nextToken, problems) and validates every body. One convention holds
for them all: a field without a value is absent, never null, and the schemas say so (no optional field is
nullable, none that may be absent is required).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests.api.test_history_and_events import REPORT, SSE_EVENT, history
from tests.support import TICKET, Api, HttpResult, load_event, with_request

# Values that are the client's or the workflow's own JSON: null may be in them.
FREE_FORM = {"input", "output", "statusVariables", "inputSchema"}


@pytest.fixture
def document(api: Api) -> dict[str, Any]:
    response = api.call(load_event("get-openapi"))
    assert response.status == 200
    result: dict[str, Any] = response.json()
    return result


def _schema(document: dict[str, Any], path: str, method: str, response: HttpResult) -> dict[str, Any]:
    operation = document["paths"][path][method.lower()]
    documented = operation["responses"].get(str(response.status))
    assert documented is not None, f"{method} {path}: {response.status} is not documented"
    content_type = response.headers["content-type"].split(";")[0]
    assert content_type in documented.get("content", {}), f"{method} {path}: {content_type}"
    schema: dict[str, Any] = documented["content"][content_type]["schema"]
    return schema


def _nulls(value: Any, at: str = "") -> list[str]:
    """Where a null stands in a response body, outside the client's and the workflow's own values."""
    if value is None:
        return [at]
    if isinstance(value, dict):
        return [n for key, item in value.items() if key not in FREE_FORM for n in _nulls(item, f"{at}/{key}")]
    if isinstance(value, list):
        return [n for index, item in enumerate(value) for n in _nulls(item, f"{at}/{index}")]
    return []


def check(document: dict[str, Any], path: str, method: str, response: HttpResult) -> Any:
    """The response is documented and its JSON body matches the schema; returns the body."""
    schema = _schema(document, path, method, response)
    body = response.json()
    # The document is the root, so that the schemas' #/components/... references resolve.
    validator = Draft202012Validator({**document, **schema})
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(body)]
    assert errors == [], f"{method} {path} {response.status}: {errors}\n{response.body}"
    assert _nulls(body) == [], f"{method} {path} {response.status}: null at {_nulls(body)}"
    return body


def test_no_response_schema_makes_an_optional_field_nullable(document: dict[str, Any]):
    nullable = [
        f"{name}.{field}"
        for name, schema in document["components"]["schemas"].items()
        for field, property_schema in schema.get("properties", {}).items()
        if {"type": "null"} in property_schema.get("anyOf", []) or property_schema.get("type") == "null"
    ]
    assert nullable == []


def test_every_answer_of_every_route_matches_its_schema(api: Api, document: dict[str, Any]):
    status_path, run_path = "/executions/{executionId}", "/workflows/{name}/executions"

    # Starts: new (JSON and text/plain), replayed; then the execution in each status
    started = check(document, run_path, "POST", api.start(body={**TICKET, "delaySeconds": 30}))
    assert "correlationId" not in started
    text = api.start(headers={"Accept": "text/plain"})
    assert _schema(document, run_path, "POST", text) == {"type": "string"}
    keyed = {"Idempotency-Key": "schema-key", "X-On-Conflict": "RETURN_EXISTING"}
    first = check(document, run_path, "POST", api.start(headers=keyed, query={"correlationId": "order-7"}))
    replay = api.start(headers=keyed, query={"correlationId": "order-7"})
    assert replay.status == 200
    assert check(document, run_path, "POST", replay)["correlationId"] == first["correlationId"] == "order-7"
    by_get = with_request(load_event("start-execution-by-get"), query={"subject": "s", "customerTier": "pro"})
    check(document, "/workflows/{name}/start", "GET", api.call(by_get))

    running = check(document, status_path, "GET", api.get(started["executionId"]))
    assert running["status"] in {"QUEUED", "RUNNING"}
    check(document, status_path, "DELETE", api.cancel(started["executionId"]))
    check(document, status_path, "GET", api.get(started["executionId"]))
    check(document, status_path, "DELETE", api.cancel(started["executionId"]))  # 409, a problem

    completed = api.start(query={"priority": "3"}).json()["executionId"]
    failed = api.start(body={**TICKET, "subject": "Buy cheap spam now"}).json()["executionId"]
    for execution_id, status in ((completed, "COMPLETED"), (failed, "FAILED")):
        finished = api.wait_for_status(execution_id, status)
        check(document, status_path, "GET", api.get(execution_id))
        assert "correlationId" not in finished

    # Search: a page with a nextToken, the last page without
    page = check(document, "/executions", "GET", api.search(limit="1"))
    assert page["nextToken"]
    last = check(document, "/executions", "GET", api.search(correlationId="order-7"))
    assert "nextToken" not in last
    assert [item.get("correlationId") for item in last["items"]] == ["order-7"]

    # History: a page with io and a nextToken, of a workflow with Lambda steps and a Map
    summary = api.start("document-summary", raw_body=REPORT, headers={"Content-Type": "text/markdown"})
    summary_id = summary.json()["executionId"]
    api.wait_for_status(summary_id, "COMPLETED")
    check(
        document,
        "/executions/{executionId}/history",
        "GET",
        history(api, summary_id, include="io", limit="2"),
    )
    check(document, "/executions/{executionId}/history", "GET", history(api, failed))

    # Events: the final event's data is the status document
    stream = api.call(
        with_request(
            load_event("stream-execution-events"),
            path_parameters={"executionId": completed},
            headers={"Last-Event-ID": None},
        )
    )
    events = [match.groupdict() for match in SSE_EVENT.finditer(stream.body)]
    assert events[-1]["type"] == "completed"
    for event in events:
        assert _nulls(json.loads(event["data"])) == [], event
    final = HttpResult(200, {"content-type": "application/json"}, events[-1]["data"])
    check(document, status_path, "GET", final)

    # Workflows
    listing = with_request(load_event("get-openapi"))
    listing["resource"] = listing["path"] = "/workflows"
    check(document, "/workflows", "GET", api.call(listing))
    one = with_request(load_event("get-openapi"))
    one["resource"] = "/workflows/{name}"
    one = with_request(one, path_parameters={"name": "document-summary"})
    check(document, "/workflows/{name}", "GET", api.call(one))

    # Problems: 400, 404, 405, 422
    check(document, "/executions", "GET", api.search(limit="0"))
    check(document, status_path, "GET", api.get("00000000-0000-0000-0000-000000000000"))
    not_by_get = with_request(
        load_event("start-execution-by-get"), path_parameters={"name": "document-summary"}
    )
    check(document, "/workflows/{name}/start", "GET", api.call(not_by_get))
    check(document, run_path, "POST", api.start(body={"subject": ""}))


def test_every_page_lists_under_items(document: dict[str, Any]):
    """One name for a page's list, whichever route: search and history alike."""
    schemas = document["components"]["schemas"]
    pages = [name for name, schema in schemas.items() if "nextToken" in schema.get("properties", {})]
    assert sorted(pages) == ["ExecutionHistory", "ExecutionPage"]
    for name in pages:
        lists = [key for key, value in schemas[name]["properties"].items() if value.get("type") == "array"]
        assert lists == ["items"], name
