"""Idempotency keys over the API: each conflict strategy, key reuse, header rules."""

from __future__ import annotations

import json

import pytest

from tests.support import TICKET, Api

KEY = "order-1234-triage"


def keyed(strategy: str, key: str = KEY) -> dict[str, str | None]:
    return {"Idempotency-Key": key, "X-On-Conflict": strategy}


def test_return_existing_replays_the_same_execution(api: Api):
    first = api.start(headers=keyed("RETURN_EXISTING"))
    again = api.start(headers=keyed("RETURN_EXISTING"))
    assert (first.status, again.status) == (202, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.json()["executionId"] == first.json()["executionId"]
    assert again.headers["location"] == first.headers["location"]
    assert {k: v for k, v in again.json().items() if k != "status"} == {
        k: v for k, v in first.json().items() if k != "status"
    }


def test_the_legacy_header_name_is_the_same_key(api: Api):
    first = api.start(headers=keyed("RETURN_EXISTING"))
    again = api.start(headers={"X-Idempotency-Key": KEY, "X-On-Conflict": "RETURN_EXISTING"})
    assert again.json()["executionId"] == first.json()["executionId"]


def test_fail_refuses_any_duplicate_naming_the_existing_execution(api: Api):
    first = api.start(headers=keyed("FAIL")).json()
    api.wait_for_status(first["executionId"], "COMPLETED")
    again = api.start(headers=keyed("FAIL"))
    assert (again.status, again.problem_code) == (409, "idempotency_conflict")
    assert again.json()["executionId"] == first["executionId"]


def test_fail_on_running_refuses_while_running_and_starts_anew_once_finished(api: Api):
    slow = {**TICKET, "delaySeconds": 30}
    first = api.start(body=slow, headers=keyed("FAIL_ON_RUNNING")).json()
    refused = api.start(body=slow, headers=keyed("FAIL_ON_RUNNING"))
    assert (refused.status, refused.problem_code) == (409, "idempotency_conflict")
    assert refused.json()["executionId"] == first["executionId"]
    assert api.cancel(first["executionId"]).status == 200
    second = api.start(body=slow, headers=keyed("FAIL_ON_RUNNING"))
    assert second.status == 202
    assert second.json()["executionId"] != first["executionId"]
    assert api.cancel(second.json()["executionId"]).status == 200


@pytest.mark.parametrize(
    ("workflow", "body", "query"),
    [
        ("ticket-triage", {**TICKET, "subject": "Another subject"}, {}),
        ("ticket-triage", TICKET, {"version": "1"}),
        ("document-summary", None, {}),
    ],
    ids=["other body", "other version", "other workflow"],
)
def test_a_key_reused_for_another_request_is_422(api: Api, workflow, body, query):
    first = api.start(headers=keyed("RETURN_EXISTING")).json()
    reused = api.start(workflow, body, headers=keyed("RETURN_EXISTING"), query=query)
    assert (reused.status, reused.problem_code) == (422, "idempotency_key_reused")
    assert reused.json()["executionId"] == first["executionId"]


@pytest.mark.parametrize(
    "headers",
    [
        {"Idempotency-Key": KEY},
        {"X-On-Conflict": "FAIL"},
        {"Idempotency-Key": KEY, "X-On-Conflict": "SOMETIMES"},
        {"Idempotency-Key": "k" * 256, "X-On-Conflict": "FAIL"},
        {"Idempotency-Key": "tab\tin key", "X-On-Conflict": "FAIL"},
        {"Idempotency-Key": "ключ", "X-On-Conflict": "FAIL"},
        {"Idempotency-Key": "a", "X-Idempotency-Key": "b", "X-On-Conflict": "FAIL"},
    ],
    ids=[
        "no strategy",
        "strategy without key",
        "unknown strategy",
        "key too long",
        "control char",
        "non-ascii",
        "two keys",
    ],
)
def test_bad_idempotency_headers_are_400(api: Api, headers):
    response = api.start(headers=headers)
    assert response.status == 400
    assert response.problem_code in {"bad_request", "invalid_parameter"}


def test_a_255_character_key_is_fine(api: Api):
    assert api.start(headers=keyed("FAIL", key="k" * 255)).status == 202


@pytest.mark.parametrize("spelling", [f"{KEY}   ", f"   {KEY}", f" \t{KEY}\t "])
@pytest.mark.parametrize("header", ["Idempotency-Key", "X-Idempotency-Key"])
def test_whitespace_around_a_key_is_not_part_of_it(api: Api, header: str, spelling: str):
    """RFC 9110 §5.5: a field value excludes the whitespace around it, so these are all one key."""
    first = api.start(headers=keyed("RETURN_EXISTING"))
    again = api.start(headers={header: spelling, "X-On-Conflict": "RETURN_EXISTING"})
    assert (first.status, again.status) == (202, 200)
    assert again.json()["executionId"] == first.json()["executionId"]


def test_the_two_key_headers_agree_once_trimmed(api: Api):
    both = {"Idempotency-Key": f"{KEY} ", "X-Idempotency-Key": f" {KEY}", "X-On-Conflict": "FAIL"}
    assert api.start(headers=both).status == 202


def test_a_whole_number_written_as_a_float_is_the_same_request(api: Api):
    first = api.start(body={**TICKET, "delaySeconds": 1}, headers=keyed("RETURN_EXISTING"))
    raw_body = json.dumps({**TICKET, "delaySeconds": 1}).replace('"delaySeconds": 1', '"delaySeconds": 1.0')
    again = api.start(raw_body=raw_body, headers=keyed("RETURN_EXISTING"))
    assert (first.status, again.status) == (202, 200), again.body
    assert again.json()["executionId"] == first.json()["executionId"]
