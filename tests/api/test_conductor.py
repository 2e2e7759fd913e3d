"""Conductor's /api through the conductor Lambda, called directly as API Gateway would call it."""

from __future__ import annotations

import json

from tests.support import TICKET, Api, load_event, with_request


def test_the_sample_event_starts_a_workflow_and_its_replay_answers_the_same_id(api: Api):
    event = load_event("conductor-start")
    first = api.call(event)
    assert (first.status, first.headers["content-type"]) == (200, "text/plain")
    assert len(first.body) == 36
    replayed = api.call(event)  # idempotencyStrategy RETURN_EXISTING
    assert (replayed.status, replayed.body) == (200, first.body)
    workflow = api.call(
        with_request(
            {**event, "httpMethod": "GET", "resource": "/api/workflow/{workflowId}"},
            path_parameters={"workflowId": first.body},
            body="",
        )
    ).json()
    assert (workflow["workflowName"], workflow["status"], workflow["correlationId"]) == (
        "ticket-triage",
        "RUNNING",
        "order-1234",
    )


def test_errors_are_conductors_documents(api: Api):
    event = load_event("conductor-start")
    unknown = api.call(with_request(event, body=json.dumps({"name": "no-such-workflow", "input": TICKET})))
    assert unknown.status == 404
    document = unknown.json()
    assert set(document) == {"status", "code", "message", "retryable"}
    assert (document["status"], document["retryable"]) == (404, False)
    invalid = api.call(
        with_request(event, body=json.dumps({"name": "ticket-triage", "input": {"subject": 7}}))
    )
    assert (invalid.status, invalid.json()["code"]) == (422, "input_validation_failed")
    assert "/subject" in invalid.json()["message"]
    malformed = api.call(with_request(event, body="{"))
    assert (malformed.status, malformed.json()["code"]) == (400, "malformed_json")


def test_a_method_a_path_lacks_is_405_and_a_path_flowport_lacks_501(api: Api):
    event = load_event("conductor-start")
    put = api.call({**event, "httpMethod": "PUT"})
    assert (put.status, put.json()["code"]) == (405, "method_not_allowed")
    pause = api.call(
        {**event, "httpMethod": "PUT", "resource": "/api/{proxy+}", "path": "/api/workflow/abc/pause"}
    )
    assert (pause.status, pause.json()["code"]) == (501, "not_implemented")
    assert "terminate" in pause.json()["message"]
