"""Callers apart: what each principal may start, see, search and cancel, through the handlers, with the
caller in the authorizer context as API Gateway passes it on (the authorizer itself: tests/e2e)."""

from __future__ import annotations

from typing import Any

import pytest
from flowport.core.identity import Action, AuthMode

from tests.support import ADMIN, TICKET, Api, as_caller, caller, load_event, with_request

SLOW = {**TICKET, "delaySeconds": 30}
TRIAGER = caller("p_triager000000000000", workflows=("ticket-triage",))
SUMMARISER = caller("p_summariser000000000", workflows=("document-summary",))
ALICE = caller("p_alice00000000000000", own_executions_only=True)
BOB = caller("p_bob0000000000000000", own_executions_only=True)
STARTER = caller("p_starter000000000000", actions=(Action.START,))
READER = caller("p_reader0000000000000", actions=(Action.READ,))


def keyed(key: str) -> dict[str, str | None]:
    return {"Idempotency-Key": key, "X-On-Conflict": "RETURN_EXISTING"}


def reads(api: Api, execution_id: str, who: Any) -> dict[str, tuple[int, str]]:
    """What each route that names an execution answers this caller: (status, code or '')."""
    answers = {}
    for name, event in (
        ("status", "get-execution"),
        ("history", "get-execution-history"),
        ("events", "stream-execution-events"),
        ("cancel", "cancel-execution"),
    ):
        request = with_request(load_event(event), path_parameters={"executionId": execution_id})
        if name == "events":  # no wait: the first look answers
            request = with_request(request, headers={"Last-Event-ID": None})
        response = api.call(as_caller(request, who))
        code = response.problem_code if response.status >= 400 else ""
        answers[name] = (response.status, code)
    return answers


def test_the_same_idempotency_key_from_two_principals_starts_two_executions(api: Api):
    alice = api.start(body={**SLOW, "subject": "Alice's"}, headers=keyed("shared-key"), who=ALICE)
    bob = api.start(body={**SLOW, "subject": "Bob's"}, headers=keyed("shared-key"), who=BOB)
    assert (alice.status, bob.status) == (202, 202)  # bob's body differs, and still no 422: not his key
    assert alice.json()["executionId"] != bob.json()["executionId"]
    replay = api.start(body={**SLOW, "subject": "Alice's"}, headers=keyed("shared-key"), who=ALICE)
    assert (replay.status, replay.json()["executionId"]) == (200, alice.json()["executionId"])
    bob_again = api.start(body={**SLOW, "subject": "Bob's"}, headers=keyed("shared-key"), who=BOB)
    assert bob_again.json()["executionId"] == bob.json()["executionId"]


def test_an_execution_records_who_started_it(api: Api):
    started = api.start(body=SLOW, who=TRIAGER).json()
    assert started["startedBy"] == TRIAGER.principal_id
    assert api.get(started["executionId"]).json()["startedBy"] == TRIAGER.principal_id
    found = api.search(startedBy=TRIAGER.principal_id).json()["items"]
    assert [item["executionId"] for item in found] == [started["executionId"]]
    assert found[0]["startedBy"] == TRIAGER.principal_id
    assert api.search(startedBy="p_nobody0000000000000").json()["items"] == []


def test_an_execution_out_of_scope_answers_exactly_as_an_unknown_one(api: Api):
    started = api.start(body=SLOW).json()
    hidden = reads(api, started["executionId"], SUMMARISER)
    unknown = reads(api, "00000000-0000-4000-8000-000000000000", SUMMARISER)
    assert hidden == unknown == dict.fromkeys(hidden, (404, "execution_not_found"))
    assert api.get(started["executionId"]).json()["status"] != "CANCELLED"  # the refused cancel did nothing
    assert api.get(started["executionId"], who=TRIAGER).status == 200


def test_own_executions_only_sees_and_cancels_only_its_own(api: Api):
    alices = api.start(body={**SLOW, "subject": "Alice's"}, who=ALICE).json()["executionId"]
    bobs = api.start(body={**SLOW, "subject": "Bob's"}, who=BOB).json()["executionId"]
    assert set(reads(api, bobs, ALICE).values()) == {(404, "execution_not_found")}
    assert api.get(bobs).json()["status"] in {"QUEUED", "RUNNING"}  # Alice's cancel did not reach it
    assert api.get(alices, who=ALICE).status == 200
    assert [item["executionId"] for item in api.search(who=ALICE).json()["items"]] == [alices]
    assert api.search(who=ALICE, startedBy=BOB.principal_id).json()["items"] == []
    assert api.search(who=ALICE, workflow="ticket-triage").json()["items"][0]["executionId"] == alices
    assert api.cancel(alices, who=ALICE).status == 200


def test_a_search_returns_only_the_workflows_in_scope(api: Api):
    triage = api.start(body=SLOW).json()["executionId"]
    summary = api.call(load_event("start-document-summary")).json()["executionId"]
    everything = {item["executionId"] for item in api.search().json()["items"]}
    assert {triage, summary} <= everything
    assert {item["executionId"] for item in api.search(who=TRIAGER).json()["items"]} == {triage}
    assert {item["executionId"] for item in api.search(who=SUMMARISER).json()["items"]} == {summary}
    out_of_scope = api.search(who=TRIAGER, workflow="document-summary")
    unknown = api.search(who=TRIAGER, workflow="no-such-workflow")
    assert (out_of_scope.status, out_of_scope.problem_code) == (unknown.status, unknown.problem_code)
    assert (out_of_scope.status, out_of_scope.problem_code) == (404, "workflow_not_found")


def test_a_search_page_token_does_not_widen_a_narrower_caller(api: Api):
    for number in range(3):
        api.start(body={**SLOW, "subject": f"ticket {number}"})
    api.call(load_event("start-document-summary"))
    page = api.search(limit="1").json()
    # The admin's token belongs to a search without a scope: a narrower caller cannot continue it.
    refused = api.search(who=TRIAGER, limit="1", nextToken=page["nextToken"])
    assert (refused.status, refused.problem_code) == (400, "invalid_next_token")


@pytest.mark.parametrize(
    ("who", "workflow", "code"),
    [
        (SUMMARISER, "ticket-triage", "forbidden"),  # not its workflow
        (READER, "ticket-triage", "forbidden"),  # no start action
        (caller("p_basic000000000000000", mode=AuthMode.BASIC), "ticket-triage", "unauthorized"),
    ],
)
def test_a_start_needs_the_scope_and_a_credential_the_workflow_takes(
    api: Api, who: Any, workflow: str, code: str
):
    response = api.start(workflow, body=SLOW, who=who)
    assert (response.status, response.problem_code) == (403 if code == "forbidden" else 401, code)
    if code == "unauthorized":  # a user name and password, where the workflow takes API keys only
        assert response.headers["www-authenticate"] == 'Bearer realm="flowport"'
    assert api.search(workflow=workflow).json()["items"] == []  # nothing was started


def test_actions_outside_the_scope_are_forbidden(api: Api):
    started = api.start(body=SLOW, who=STARTER).json()["executionId"]
    cancel = api.cancel(started, who=READER)
    assert (cancel.status, cancel.problem_code) == (403, "forbidden")
    search = api.search(who=STARTER)
    assert (search.status, search.problem_code) == (403, "forbidden")
    assert api.get(started, who=READER).status == 200


def test_a_request_without_a_caller_is_refused_before_anything_runs(api: Api):
    for event in ("start-execution", "get-execution", "list-executions", "cancel-execution"):
        request = load_event(event)
        del request["requestContext"]["authorizer"]
        response = api.call(request)
        assert (response.status, response.problem_code) == (401, "unauthorized"), event
        assert "Basic" in response.headers["www-authenticate"]
    assert api.search(who=ADMIN).json()["items"] == []
