"""GET and DELETE /executions/{executionId}, through the status and cancel Lambdas."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flowport import services
from flowport.local.cloud import LocalCloud

from tests.support import ANYONE, TICKET, Api, load_event, wait_until, with_request


def test_the_status_of_a_running_then_completed_execution(api: Api):
    started = api.start(body={**TICKET, "delaySeconds": 1}).json()
    running = api.get(started["executionId"])
    assert running.status == 200
    document = running.json()
    assert document["status"] in {"RUNNING", "COMPLETED"}
    assert document["input"]["subject"] == TICKET["subject"]
    assert document["source"] == "http-post"
    assert document["links"]["self"] == f"/v1/executions/{started['executionId']}"
    finished = api.wait_for_status(started["executionId"], "COMPLETED")
    assert finished["output"]["queue"] == "priority"
    assert finished["statusVariables"] == {"queue": "priority", "slaHours": finished["output"]["slaHours"]}
    assert finished["startedAt"] <= finished["completedAt"] <= finished["cleanupAfter"]
    assert "error" not in finished


def test_a_failed_execution_reports_its_error_and_no_output(api: Api):
    started = api.start(body={**TICKET, "subject": "Buy cheap spam now"}).json()
    failed = api.wait_for_status(started["executionId"], "FAILED")
    assert failed["error"] == {"code": "TicketRejected", "message": "Looks like spam", "node": "Reject"}
    assert failed["progress"] < 100
    assert "output" not in failed


def test_unknown_executions_are_404(api: Api):
    response = api.call(load_event("get-execution"))
    assert (response.status, response.problem_code) == (404, "execution_not_found")


@pytest.mark.parametrize("execution_id", ["x" * 81, "has space", "semi;colon", "é"])
def test_malformed_execution_ids_are_400(api: Api, execution_id):
    event = with_request(load_event("get-execution"), path_parameters={"executionId": execution_id})
    assert api.call(event).status == 400


def test_cancel_a_running_execution(api: Api):
    started = api.start(body={**TICKET, "delaySeconds": 30}).json()
    response = api.cancel(started["executionId"])
    assert response.status == 200
    assert response.json() == {
        "executionId": started["executionId"],
        "cancelled": True,
        "previousStatus": "RUNNING",
        "status": "CANCELLED",
        "message": f"Execution {started['executionId']} was cancelled",
    }
    assert api.get(started["executionId"]).json()["status"] == "CANCELLED"


def test_a_finished_execution_cannot_be_cancelled(cloud: LocalCloud, api: Api):
    started = api.start().json()
    api.wait_for_status(started["executionId"], "COMPLETED")
    # Recorded too: the status reads Step Functions a moment before the sync function records the end.
    assert cloud.events is not None
    wait_until(cloud.events.idle)
    response = api.cancel(started["executionId"])
    assert (response.status, response.problem_code) == (409, "execution_not_cancellable")
    assert response.json()["cancelled"] is False
    assert response.json()["executionStatus"] == "COMPLETED"


def test_cancelling_twice_is_409_the_second_time(api: Api):
    started = api.start(body={**TICKET, "delaySeconds": 30}).json()
    assert api.cancel(started["executionId"]).status == 200
    again = api.cancel(started["executionId"])
    assert (again.status, again.json()["executionStatus"], again.json()["cancelled"]) == (
        409,
        "CANCELLED",
        False,
    )


def test_a_cancel_while_another_is_under_way_says_so_not_finished(api: Api):
    started = api.start(body={**TICKET, "delaySeconds": 30}).json()
    api.wait_for_status(started["executionId"], "RUNNING")
    # Another cancel claimed it and has not recorded CANCELLED yet.
    assert services.execution_store().claim_cancel(started["executionId"], datetime.now(UTC), ANYONE).won
    response = api.cancel(started["executionId"])
    assert (response.status, response.problem_code) == (409, "cancellation_in_progress")
    problem = response.json()
    assert (problem["cancelled"], problem["executionStatus"]) == (False, "RUNNING")
    assert "finished" not in problem["title"] + problem["detail"]


def test_cancel_of_an_unknown_execution_is_404(api: Api):
    response = api.call(load_event("cancel-execution"))
    assert (response.status, response.problem_code) == (404, "execution_not_found")
