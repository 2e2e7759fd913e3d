"""POST /executions/{executionId}/retry and /rerun, through the start Lambda, from the events in events/,
over moto with its RedriveExecution emulated (flowport.local.redrive)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from flowport import services
from flowport.core.identity import Action
from flowport.core.models import MAX_RERUNS_NOTED
from flowport.local.cloud import LocalCloud

from tests.support import (
    DOCUMENT,
    TICKET,
    Api,
    caller,
    lambda_failing,
    load_event,
    wait_until,
    with_request,
)

SPAM = {**TICKET, "subject": "Buy cheap spam now"}  # ticket-triage v2 fails it in its Reject state
RETRIER = caller("p_retrier000000000000", actions=(Action.RETRY, Action.READ))
READER = caller("p_reader0000000000000", actions=(Action.READ, Action.START))
SUMMARY_ONLY = caller("p_summaries0000000000", workflows=("document-summary",))
OTHERS_OWN = caller("p_alice00000000000000", own_executions_only=True)


def retry_sample(execution_id: str) -> dict[str, Any]:
    """events/retry-execution.json (its Idempotency-Key and RETURN_EXISTING) for this execution."""
    return with_request(load_event("retry-execution"), path_parameters={"executionId": execution_id})


def failed_summary(api: Api) -> str:
    """A document-summary execution FAILED in its Summarise step (its Lambda timed out, once)."""
    with lambda_failing("SummariseDocumentFunction"):
        started = api.start(
            "document-summary", raw_body=DOCUMENT, headers={"Content-Type": "text/markdown"}
        ).json()
        failed = api.wait_for_status(started["executionId"], "FAILED")
    assert (failed["error"]["code"], failed["error"]["node"]) == ("Sandbox.Timedout", "Summarise")
    return str(started["executionId"])


def runs(api: Api, execution_id: str) -> list[tuple[str, str]]:
    """(name, status) of each state run in its history, oldest first."""
    event = with_request(
        load_event("get-execution-history"),
        path_parameters={"executionId": execution_id},
        query={"limit": "100"},
    )
    return [(item["name"], item["status"]) for item in api.call(event).json()["items"]]


def redrives(execution_id: str) -> int:
    """How many times Step Functions redrove it, from its own description."""
    record = services.execution_store().get(execution_id, 0)
    assert record is not None
    description = boto3.client("stepfunctions").describe_execution(executionArn=record.execution_arn)
    return int(description["redriveCount"])


def test_a_failed_execution_runs_again_from_where_it_failed(api: Api):
    execution_id = failed_summary(api)
    response = api.call(retry_sample(execution_id))
    assert response.status == 202
    assert response.json()["executionId"] == execution_id
    assert response.json()["status"] == "RUNNING"
    assert response.headers["location"] == f"/v1/executions/{execution_id}"
    done = api.wait_for_status(execution_id, "COMPLETED")
    assert done["redriveCount"] == 1
    assert done["output"]["title"] == "Release notes"
    assert "error" not in done
    history = runs(api, execution_id)
    # The states that succeeded ran once; the one that failed ran again, and the rest after it.
    assert [name for name, _ in history].count("ParseDocument") == 1
    assert [run for run in history if run[0] == "Summarise"] == [
        ("Summarise", "FAILED"),
        ("Summarise", "SUCCEEDED"),
    ]
    assert history[-1] == ("Summarised", "SUCCEEDED")
    # The sample's key again: the first answer, and no second redrive.
    replay = api.call(retry_sample(execution_id))
    assert (replay.status, replay.headers["idempotent-replayed"]) == (200, "true")
    assert replay.json()["executionId"] == execution_id
    assert redrives(execution_id) == 1


def test_a_failed_state_runs_again_and_may_fail_again(api: Api):
    started = api.start(body=SPAM).json()
    api.wait_for_status(started["executionId"], "FAILED")
    assert api.retry(started["executionId"]).status == 202
    failed = wait_until(
        lambda: (
            (doc := api.get(started["executionId"]).json())["status"] == "FAILED"
            and doc.get("redriveCount") == 1
            and doc
        )
    )
    assert failed["error"] == {"code": "TicketRejected", "message": "Looks like spam", "node": "Reject"}
    assert runs(api, started["executionId"]) == [
        ("CheckDelay", "SUCCEEDED"),
        ("Screen", "SUCCEEDED"),
        ("Reject", "FAILED"),
        ("Reject", "FAILED"),
    ]
    again = api.retry(started["executionId"])  # each retry is an attempt
    assert again.status == 202
    wait_until(lambda: api.get(started["executionId"]).json().get("redriveCount") == 2)


def test_a_cancelled_execution_goes_on_from_the_state_it_was_stopped_in(
    api: Api, cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
):
    started = api.start(body={**TICKET, "delaySeconds": 2}).json()
    execution_id = started["executionId"]
    wait_until(lambda: api.get(execution_id).json().get("currentNode") == "WaitForAgentPool")
    bus = cloud.events
    assert bus is not None
    published: list[str] = []
    publish = bus.publish
    monkeypatch.setattr(
        bus, "publish", lambda event: (published.append(event["detail"]["status"]), publish(event))
    )
    assert api.cancel(execution_id).status == 200
    # On AWS the stop has ended the attempt when StopExecution answers; moto's worker ends it a moment
    # later, and a redrive before that end was announced races it (the end then reads the next attempt).
    wait_until(lambda: "ABORTED" in published and bus.idle())
    retried = api.retry(execution_id)
    assert (retried.status, retried.json()["status"]) == (202, "RUNNING")
    assert api.get(execution_id).json()["status"] == "RUNNING"  # not the cancelled attempt's view
    done = api.wait_for_status(execution_id, "COMPLETED")
    assert (done["redriveCount"], done["output"]["queue"]) == (1, "priority")
    waits = [run for run in runs(api, execution_id) if run[0] == "WaitForAgentPool"]
    assert waits == [("WaitForAgentPool", "CANCELLED"), ("WaitForAgentPool", "SUCCEEDED")]


def recorded(execution_id: str, status: str) -> None:
    """Wait until the sync function has written this status onto the record."""
    wait_until(
        lambda: (record := services.execution_store().get(execution_id, 0)) and record.status == status
    )


def test_a_completed_execution_is_not_retried(api: Api):
    execution_id = api.start(body=TICKET).json()["executionId"]
    recorded(execution_id, "COMPLETED")
    response = api.call(retry_sample(execution_id))
    assert (response.status, response.problem_code) == (409, "execution_not_retryable")
    assert (response.json()["executionId"], response.json()["executionStatus"]) == (execution_id, "COMPLETED")
    assert "rerun" in response.json()["detail"]
    assert redrives(execution_id) == 0


def test_a_running_execution_is_refused_by_step_functions(api: Api):
    execution_id = api.start(body={**TICKET, "delaySeconds": 30}).json()["executionId"]
    recorded(execution_id, "RUNNING")
    response = api.call(retry_sample(execution_id))
    assert (response.status, response.problem_code) == (409, "execution_not_retryable")
    assert "Execution is RUNNING and cannot be redriven" in response.json()["detail"]
    # The refusal left the key free: the same key is judged afresh, and refused again.
    assert api.call(retry_sample(execution_id)).status == 409


def test_a_running_retried_execution_can_be_cancelled_and_retried_again(api: Api):
    execution_id = api.start(body={**TICKET, "delaySeconds": 30}).json()["executionId"]
    wait_until(lambda: api.get(execution_id).json().get("currentNode") == "WaitForAgentPool")
    api.cancel(execution_id)
    assert api.retry(execution_id).status == 202
    wait_until(lambda: api.get(execution_id).json().get("currentNode") == "WaitForAgentPool")
    assert api.cancel(execution_id).json()["cancelled"] is True
    assert api.get(execution_id).json()["status"] == "CANCELLED"
    assert api.retry(execution_id).status == 202
    assert api.get(execution_id).json()["redriveCount"] == 2


def test_unknown_executions_are_404(api: Api):
    for sample in ("retry-execution", "rerun-execution"):
        response = api.call(load_event(sample))
        assert (response.status, response.problem_code) == (404, "execution_not_found"), sample


def test_a_retry_needs_the_retry_action_and_an_execution_the_caller_may_see(api: Api):
    execution_id = api.start(body=SPAM).json()["executionId"]
    api.wait_for_status(execution_id, "FAILED")
    for who, status, code in (
        (READER, 403, "forbidden"),
        (SUMMARY_ONLY, 404, "execution_not_found"),
        (OTHERS_OWN, 404, "execution_not_found"),
    ):
        for response in (api.retry(execution_id, who=who), api.rerun(execution_id, who=who)):
            assert (response.status, response.problem_code) == (status, code)
    assert api.get(execution_id).json().get("redriveCount") is None
    assert api.retry(execution_id, who=RETRIER).status == 202


def test_a_rerun_needs_the_start_scope_of_its_workflow(api: Api):
    execution_id = api.start(body=TICKET).json()["executionId"]
    response = api.rerun(execution_id, who=RETRIER)  # retry and read, no start
    assert (response.status, response.problem_code) == (403, "forbidden")


def test_a_rerun_is_a_new_execution_of_the_same_request(api: Api):
    first = api.start(body=TICKET, query={"correlationId": "order-7", "priority": "42"}).json()
    api.wait_for_status(first["executionId"], "COMPLETED")
    rerun = api.rerun(first["executionId"])
    assert rerun.status == 202
    second = rerun.json()
    assert second["executionId"] != first["executionId"]
    assert rerun.headers["location"] == f"/v1/executions/{second['executionId']}"
    document = api.wait_for_status(second["executionId"], "COMPLETED")
    assert document["rerunOf"] == first["executionId"]
    assert (document["input"], document["version"]) == (TICKET, first["version"])
    assert (document["correlationId"], document["priority"]) == ("order-7", 42)
    assert "rerunOf" not in api.get(first["executionId"]).json()
    assert "redriveCount" not in document
    assert api.get(first["executionId"]).json()["reruns"] == [second["executionId"]]
    assert "reruns" not in document


@pytest.mark.parametrize(("version", "runs_version"), [("1", 1), ("latest", 2)])
def test_a_rerun_may_run_another_version(api: Api, version: str, runs_version: int):
    first = api.start(body=TICKET, query={"version": "1" if version == "latest" else "2"}).json()
    rerun = api.rerun(first["executionId"], query={"version": version})
    assert (rerun.status, rerun.json()["version"]) == (202, runs_version)


@pytest.mark.parametrize(
    ("version", "status", "code"),
    [("0", 400, "invalid_parameter"), ("newest", 400, "invalid_parameter"), ("9", 404, "version_not_found")],
)
def test_a_rerun_of_a_version_that_is_not_there_is_refused(api: Api, version: str, status: int, code: str):
    first = api.start(body=TICKET).json()
    response = api.rerun(first["executionId"], query={"version": version})
    assert (response.status, response.problem_code) == (status, code)


def test_a_rerun_key_replays_its_rerun_and_never_a_start(api: Api):
    first = api.start(body=TICKET).json()
    sample = with_request(
        load_event("rerun-execution"), path_parameters={"executionId": first["executionId"]}
    )
    rerun = api.call(sample)  # the sample's key, RETURN_EXISTING, ?version=latest
    assert rerun.status == 202
    replay = api.call(sample)
    assert (replay.status, replay.json()["executionId"]) == (200, rerun.json()["executionId"])
    assert api.get(first["executionId"]).json()["reruns"] == [rerun.json()["executionId"]]  # noted once
    # The same key and body for a start is another request: 422, not a replay of the rerun.
    key = {"Idempotency-Key": "rerun-2f1c6a8e-1", "X-On-Conflict": "RETURN_EXISTING"}
    start = api.start(body=TICKET, headers=key)
    assert (start.status, start.problem_code) == (422, "idempotency_key_reused")


def test_an_execution_notes_its_first_reruns_only(api: Api):
    first = api.start(body=TICKET).json()["executionId"]
    store = services.execution_store()
    for number in range(MAX_RERUNS_NOTED):
        assert store.note_rerun(first, f"rerun-{number}") is True
    assert store.note_rerun(first, "one-too-many") is False
    assert store.note_rerun(first, "rerun-3") is False
    assert store.note_rerun("no-such-execution", "rerun-x") is False
    reruns = api.get(first).json()["reruns"]
    assert reruns == [f"rerun-{number}" for number in range(MAX_RERUNS_NOTED)]
    assert api.rerun(first).status == 202  # the list is full: the rerun still runs


def test_a_retry_key_answers_as_a_start_key_does(api: Api):
    execution_id = api.start(body=SPAM).json()["executionId"]
    api.wait_for_status(execution_id, "FAILED")
    fail = {"Idempotency-Key": "once", "X-On-Conflict": "FAIL"}
    assert api.retry(execution_id, headers=fail).status == 202
    conflict = api.retry(execution_id, headers=fail)
    assert (conflict.status, conflict.problem_code) == (409, "idempotency_conflict")
    # FAIL_ON_RUNNING: once the retried attempt has failed again, the key retries again.
    # The record, not the live view: the key's decision reads the record, which the sync function writes
    # a moment after Step Functions reports the end.
    wait_until(lambda: (r := services.execution_store().get(execution_id, 0)) and r.status.value == "FAILED")
    again = {"Idempotency-Key": "once", "X-On-Conflict": "FAIL_ON_RUNNING"}
    assert api.retry(execution_id, headers=again).status == 202
    assert redrives(execution_id) == 2
    # Keys are per execution: the same key retries another execution.
    other = api.start(body=SPAM).json()["executionId"]
    api.wait_for_status(other, "FAILED")
    assert api.retry(other, headers=fail).status == 202


def test_a_retry_answers_as_a_start_does_to_a_key_without_x_on_conflict(api: Api):
    response = api.retry("2f1c6a8e-3b7d-4c59-9e0a-6d2b8f4a1c37", headers={"Idempotency-Key": "k"})
    assert (response.status, response.problem_code) == (400, "bad_request")
    plain = api.retry("2f1c6a8e-3b7d-4c59-9e0a-6d2b8f4a1c37", headers={"Accept": "text/plain"})
    assert plain.status == 404


def test_other_methods_on_the_retry_and_rerun_paths_are_405(api: Api):
    for sample in ("retry-execution", "rerun-execution"):
        event = load_event(sample)
        event["httpMethod"] = event["requestContext"]["httpMethod"] = "GET"
        response = api.call(event)
        assert (response.status, response.problem_code) == (405, "method_not_allowed")
        assert response.headers["allow"] == "POST"
