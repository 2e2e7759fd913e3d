"""POST /workflows/{name}/executions and GET /workflows/{name}/start, through the start Lambda."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import TICKET, Api, load_event, with_request

ROOT = Path(__file__).resolve().parents[2]
TEXT = {"Content-Type": "text/plain"}


def test_the_sample_event_starts_an_execution(api: Api):
    response = api.call(load_event("start-execution"))
    assert response.status == 202
    body = response.json()
    assert body["workflow"] == "ticket-triage"
    assert body["version"] == 2
    assert body["status"] == "RUNNING"
    assert body["correlationId"] == "order-1234"
    assert body["priority"] == 5
    assert response.headers["location"] == f"/v1/executions/{body['executionId']}"
    assert body["links"] == {"self": response.headers["location"], "cancel": response.headers["location"]}


def test_ids_are_unguessable_uuids(api: Api):
    ids = {api.start().json()["executionId"] for _ in range(3)}
    assert len(ids) == 3
    assert all(len(execution_id) == 36 for execution_id in ids)


def test_accept_text_plain_gets_the_bare_id(api: Api):
    response = api.start(headers={"Accept": "text/plain"})
    assert response.status == 202
    assert response.headers["content-type"] == "text/plain"
    assert response.headers["location"].endswith(response.body)


def test_unacceptable_accept_is_406_and_starts_nothing(api: Api):
    response = api.start(headers={"Accept": "image/png"})
    assert (response.status, response.problem_code) == (406, "not_acceptable")


def test_an_older_version_can_be_chosen(api: Api):
    assert api.start(query={"version": "1"}).json()["version"] == 1


@pytest.mark.parametrize(
    ("workflow", "query", "status", "code"),
    [
        ("no-such-workflow", {}, 404, "workflow_not_found"),
        ("ticket-triage", {"version": "9"}, 404, "version_not_found"),
        ("nightly-report", {}, 403, "workflow_disabled"),
        ("ticket-triage", {"priority": "100"}, 400, "invalid_parameter"),
        ("ticket-triage", {"priority": "-1"}, 400, "invalid_parameter"),
        ("ticket-triage", {"priority": "high"}, 400, "invalid_parameter"),
        ("ticket-triage", {"version": "0"}, 400, "invalid_parameter"),
        ("ticket-triage", {"version": "latest"}, 400, "invalid_parameter"),
        ("ticket-triage", {"correlationId": "c" * 129}, 400, "invalid_parameter"),
    ],
)
def test_start_errors(api: Api, workflow, query, status, code):
    response = api.start(workflow, query=query, body={} if workflow == "nightly-report" else None)
    assert (response.status, response.problem_code) == (status, code)
    problem = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]


def test_a_disabled_workflow_says_so(api: Api):
    assert "disabled" in api.start("nightly-report", body={}).json()["detail"]


def test_schema_failures_list_each_field(api: Api):
    response = api.start(body={"subject": "", "customerTier": "gold", "surprise": True})
    assert (response.status, response.problem_code) == (422, "input_validation_failed")
    assert sorted(error["field"] for error in response.json()["errors"]) == ["", "/customerTier", "/subject"]


@pytest.mark.parametrize(
    ("raw_body", "code"),
    [
        ("{", "malformed_json"),
        ("[1, 2]", "malformed_json"),
        ('"text"', "malformed_json"),
        ("nul", "malformed_json"),
    ],
)
def test_malformed_bodies_are_400(api: Api, raw_body, code):
    response = api.start(raw_body=raw_body)
    assert (response.status, response.problem_code) == (400, code)


def test_a_body_over_256_kib_is_413(api: Api):
    response = api.start(raw_body=json.dumps({**TICKET, "body": "x" * (256 * 1024)}))
    assert (response.status, response.problem_code) == (413, "payload_too_large")


def test_a_non_json_body_for_a_json_workflow_is_415(api: Api):
    response = api.start(raw_body="subject,tier\nx,free", headers={"Content-Type": "text/csv"})
    assert (response.status, response.problem_code) == (415, "unsupported_media_type")


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_json_sent_with_curls_default_form_type_is_read_as_json(api: Api):
    response = api.start(headers=FORM)
    assert response.status == 202
    truncated = api.start(raw_body='{"subject": "x"', headers=FORM)
    assert (truncated.status, truncated.problem_code) == (400, "malformed_json")


def test_a_form_body_is_read_as_fields_typed_by_the_input_schema(api: Api):
    form = "subject=Checkout+fails&customerTier=pro&delaySeconds=0&body=caf%C3%A9%20%26%20more"
    started = api.start(raw_body=form, headers=FORM)
    assert started.status == 202, started.body
    detail = api.get(started.json()["executionId"]).json()
    assert detail["input"] == {
        "subject": "Checkout fails",
        "customerTier": "pro",
        "delaySeconds": 0,
        "body": "café & more",
    }


@pytest.mark.parametrize(
    ("raw_body", "status", "code"),
    [
        ("subject=x", 422, "input_validation_failed"),
        ("subject=a&subject=b&customerTier=pro", 400, "malformed_form"),
        ("subject=a&customerTier", 400, "malformed_form"),
        ("subject=%FF&customerTier=pro", 400, "malformed_form"),
    ],
)
def test_a_form_that_is_not_one_input_is_refused(api: Api, raw_body: str, status: int, code: str):
    response = api.start(raw_body=raw_body, headers=FORM)
    assert (response.status, response.problem_code) == (status, code), response.body


def test_content_variable_puts_the_raw_body_under_its_name(api: Api):
    event = load_event("start-document-summary")
    started = api.call(event)
    assert started.status == 202
    detail = api.get(started.json()["executionId"]).json()
    assert detail["input"] == {"document": event["body"]}


def test_a_binary_body_is_decoded_from_base64(api: Api):
    import base64

    event = load_event("start-document-summary")
    event["body"] = base64.b64encode(b"# Title\n\nSome text here.").decode()
    event["isBase64Encoded"] = True
    started = api.call(event)
    assert started.status == 202
    assert api.get(started.json()["executionId"]).json()["input"] == {
        "document": "# Title\n\nSome text here."
    }


def test_start_by_get_uses_the_query_as_typed_input(api: Api):
    response = api.call(load_event("start-execution-by-get"))
    assert response.status == 202
    detail = api.get(response.json()["executionId"]).json()
    assert detail["input"] == {
        "subject": "Password reset email never arrives",
        "customerTier": "free",
        "delaySeconds": 0,
    }
    assert detail["source"] == "http-get"


def test_start_by_get_is_refused_for_workflows_that_did_not_opt_in(api: Api):
    event = with_request(load_event("start-execution-by-get"), path_parameters={"name": "document-summary"})
    response = api.call(event)
    assert (response.status, response.problem_code) == (405, "method_not_allowed")


@pytest.mark.parametrize("document", ["", "   \n\t \r\n "])
def test_an_empty_document_is_refused_at_start_not_by_a_failed_run(api: Api, document: str):
    response = api.start("document-summary", raw_body=document, headers={"Content-Type": "text/markdown"})
    assert (response.status, response.problem_code) == (422, "input_validation_failed"), response.body
    [problem] = response.json()["errors"]
    assert problem["field"] == "/document"
    assert "not empty, not only whitespace" in problem["message"]
    assert api.search(workflow="document-summary").json()["items"] == []


def test_a_document_longer_than_document_summary_takes_is_refused_at_start_not_by_a_failed_run(api: Api):
    limit = document_limit()
    assert api.start("document-summary", raw_body="w" * limit, headers=TEXT).status == 202
    response = api.start("document-summary", raw_body="w" * (limit + 1), headers=TEXT)
    assert (response.status, response.problem_code) == (422, "input_validation_failed"), response.body
    [problem] = response.json()["errors"]
    assert problem["field"] == "/document"
    assert f"({limit + 3} characters) is too long" in problem["message"]  # the value's repr has 2 quotes
    assert "at most 200,000 characters" in problem["message"]
    assert len(response.body) < 1_000


def document_limit() -> int:
    """document-summary's limit, as its input schema states it (and nowhere else)."""
    workflow = json.loads((ROOT / "statemachines" / "document-summary" / "workflow.json").read_text())
    limit: int = workflow["inputSchema"]["properties"]["document"]["maxLength"]
    return limit


def test_a_schema_message_never_echoes_a_whole_large_value(api: Api):
    response = api.start("document-summary", raw_body=" " * 200_000, headers={"Content-Type": "text/plain"})
    assert (response.status, response.problem_code) == (422, "input_validation_failed")
    assert len(response.body) < 1_000


def test_a_whole_number_float_runs_as_the_integer_it_is(api: Api):
    """JSON Schema counts 1.0 as an integer; the Wait state that reads delaySeconds takes only integers."""
    raw_body = json.dumps(TICKET).replace('"delaySeconds": 0', '"delaySeconds": 1.0')
    assert '"delaySeconds": 1.0' in raw_body
    started = api.start(raw_body=raw_body)
    assert started.status == 202, started.body
    document = api.wait_for_status(started.json()["executionId"], "COMPLETED", "FAILED", timeout=30)
    assert document["status"] == "COMPLETED", document.get("error")
    assert type(document["input"]["delaySeconds"]) is int  # stored as 1, not 1.0
