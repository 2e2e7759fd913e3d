"""The official Conductor Python SDK (conductor-python 2.0.0) against the local server's /api: each call
README's "Conductor compatibility" lists, asserted on the SDK's own parsed objects."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conductor.client.configuration.configuration import Configuration
from conductor.client.configuration.settings.authentication_settings import AuthenticationSettings
from conductor.client.http.models.start_workflow_request import StartWorkflowRequest
from conductor.client.http.rest import ApiException
from conductor.client.orkes_clients import OrkesClients
from conductor.client.workflow.executor.workflow_executor import WorkflowExecutor
from conductor.client.workflow_client import WorkflowClient
from flowport.client import new_key
from flowport.local.cloud import LocalCloud
from flowport.local.server import LocalServer, serving

from tests.support import TICKET, admin_key, issue_key, new_principal, wait_until

pytestmark = pytest.mark.e2e
SPAM = {**TICKET, "subject": "Buy cheap spam now"}  # ticket-triage v2 rejects it: FAILED
WAITING = {**TICKET, "delaySeconds": 30}


@pytest.fixture
def server(cloud: LocalCloud) -> Iterator[LocalServer]:
    with serving(cloud.stack, log=io.StringIO()) as running:
        yield running


def configuration(server: LocalServer, secret: str) -> Configuration:
    # The SDK exchanges the key for a token at POST /api/token, then sends it as X-Authorization.
    return Configuration(
        server_api_url=f"{server.url}/api",
        authentication_settings=AuthenticationSettings(key_id="flowport", key_secret=secret),
    )


@pytest.fixture
def workflows(server: LocalServer) -> WorkflowClient:
    return OrkesClients(configuration(server, admin_key())).get_workflow_client()


@pytest.fixture
def executor(server: LocalServer) -> WorkflowExecutor:
    return WorkflowExecutor(configuration(server, admin_key()))


def _finished(workflows: WorkflowClient, workflow_id: str) -> str:
    return wait_until(
        lambda: (status := workflows.get_workflow_status(workflow_id).status) != "RUNNING" and status,
        timeout=60,
    )


def test_start_both_forms_and_get_with_tasks(workflows: WorkflowClient):
    correlation = new_key()
    by_request = workflows.start_workflow(
        StartWorkflowRequest(name="ticket-triage", input=TICKET, correlation_id=correlation, priority=5)
    )
    by_name = workflows.start_workflow_by_name("ticket-triage", TICKET, version=1, correlationId=correlation)
    assert by_request != by_name
    assert _finished(workflows, by_request) == "COMPLETED"
    workflow = workflows.get_workflow(by_request, include_tasks=True)
    assert (workflow.workflow_id, workflow.workflow_name, workflow.workflow_version) == (
        by_request,
        "ticket-triage",
        2,
    )
    assert (workflow.status, workflow.correlation_id, workflow.priority) == ("COMPLETED", correlation, 5)
    assert workflow.output["queue"] == "priority"
    assert workflow.variables == {"queue": "priority", "slaHours": 4}
    assert workflow.start_time <= workflow.end_time
    names = [task.reference_task_name for task in workflow.tasks]
    assert names[:2] == ["CheckDelay", "Screen"]
    assert all(task.status == "COMPLETED" for task in workflow.tasks)
    assert all(task.workflow_instance_id == by_request for task in workflow.tasks)
    assert all(task.start_time <= task.end_time for task in workflow.tasks)
    assert workflow.tasks[0].task_type == "SWITCH"  # CheckDelay is a Choice state
    # The client sends includeTasks only when true (the server's default): its API sends false.
    without_tasks = workflows.workflowResourceApi.get_execution_status(by_request, include_tasks=False)
    assert (without_tasks.status, without_tasks.tasks) == ("COMPLETED", [])
    assert workflows.get_workflow(by_name).workflow_version == 1


def test_idempotency_strategies(workflows: WorkflowClient):
    key = new_key()

    def start(strategy: str | None) -> str:
        return workflows.start_workflow(
            StartWorkflowRequest(
                name="ticket-triage", input=WAITING, idempotency_key=key, idempotency_strategy=strategy
            )
        )

    first = start("RETURN_EXISTING")
    assert start("RETURN_EXISTING") == first
    with pytest.raises(ApiException) as refused:
        start("FAIL")  # also Conductor's default, with a key and no strategy
    assert (refused.value.status, json.loads(refused.value.body)["code"]) == (409, "idempotency_conflict")
    assert refused.value.message
    with pytest.raises(ApiException) as running:
        start("FAIL_ON_RUNNING")
    assert running.value.status == 409
    workflows.terminate_workflow(first, reason="test over")
    assert start("FAIL_ON_RUNNING") != first  # the key's execution ended: a new one starts


def test_terminate_retry_and_restart(workflows: WorkflowClient):
    waiting = workflows.start_workflow_by_name("ticket-triage", WAITING)
    wait_until(lambda: workflows.get_workflow(waiting).tasks)  # a state ran: Step Functions runs it
    workflows.terminate_workflow(waiting, reason="no longer needed")
    assert workflows.get_workflow_status(waiting).status == "TERMINATED"
    with pytest.raises(ApiException) as again:
        workflows.terminate_workflow(waiting)
    assert again.value.status == 409

    workflows.retry_workflow(waiting)  # the same workflow runs again from where it stopped
    assert workflows.get_workflow_status(waiting).status == "RUNNING"
    workflows.terminate_workflow(waiting)

    correlation = new_key()
    failed = workflows.start_workflow_by_name("ticket-triage", SPAM, correlationId=correlation, priority=7)
    assert _finished(workflows, failed) == "FAILED"
    workflow = workflows.get_workflow(failed)
    assert workflow.reason_for_incompletion == "TicketRejected: Looks like spam"
    assert "FAILED" in [task.status for task in workflow.tasks]
    workflows.restart_workflow(failed)  # a new execution of the same input, correlation and priority
    both = wait_until(
        lambda: len(hits := workflows.search(query=f"correlationId = {correlation}").results) == 2 and hits
    )
    (restarted,) = [summary.workflow_id for summary in both if summary.workflow_id != failed]
    again = workflows.get_workflow(restarted, include_tasks=False)
    assert (again.re_run_from_workflow_id, again.priority, again.input) == (failed, 7, SPAM)


def test_search(server: LocalServer, workflows: WorkflowClient):
    correlation = new_key()
    ids = [
        workflows.start_workflow_by_name(
            "ticket-triage", {**TICKET, "subject": f"s{n}"}, correlationId=correlation
        )
        for n in range(3)
    ]
    failed = workflows.start_workflow_by_name("ticket-triage", SPAM, correlationId=correlation)
    for workflow_id in [*ids, failed]:
        _finished(workflows, workflow_id)

    def found(query: str, **more: Any) -> list[str]:
        return [summary.workflow_id for summary in workflows.search(query=query, **more).results]

    # Search reads flowport's indexes, whose statuses follow Step Functions within seconds.
    everything = f"correlationId = '{correlation}'"
    wait_until(
        lambda: found(f"{everything} AND status IN (COMPLETED, FAILED)") and len(found(everything)) == 4
    )
    assert set(found(everything)) == {*ids, failed}
    summaries = workflows.search(query=everything, free_text="*").results
    assert {(summary.workflow_type, summary.correlation_id) for summary in summaries} == {
        ("ticket-triage", correlation)
    }
    wait_until(lambda: set(found(f"correlationId={correlation} AND status=COMPLETED")) == set(ids))
    either = f"correlationId IN ({correlation},other) AND status IN (FAILED,TIMED_OUT)"
    wait_until(lambda: found(either) == [failed])
    wait_until(lambda: set(found(f"{everything} AND status = RUNNING")) == set())
    newest_first = found(everything)
    assert found(everything, start=1, size=2) == newest_first[1:3]
    counted = requests.get(
        f"{server.url}/api/workflow/search",
        params={"query": everything, "size": 1, "sort": "startTime:ASC"},
        headers={"X-Authorization": admin_key()},
        timeout=10,
    ).json()
    # The SDK's search parses Conductor's scrollable result (results, queryId), without totalHits.
    assert (counted["totalHits"], [hit["workflowId"] for hit in counted["results"]]) == (4, newest_first[-1:])
    with pytest.raises(ApiException) as unsupported:
        workflows.search(query="startTime > 0")
    assert unsupported.value.status == 400
    assert "workflowType" in unsupported.value.message
    with pytest.raises(ApiException) as free_text:
        workflows.search(free_text="checkout")
    assert free_text.value.status == 400


def test_the_executor_and_the_unsupported_endpoints(executor: WorkflowExecutor):
    workflow_id = executor.start_workflow(StartWorkflowRequest(name="ticket-triage", input=WAITING))
    assert executor.get_workflow(workflow_id, include_tasks=False).status == "RUNNING"
    with pytest.raises(ApiException) as pause:
        executor.pause(workflow_id)
    assert pause.value.status == 501
    assert "terminate" in pause.value.message
    with pytest.raises(ApiException) as remove:
        executor.remove_workflow(workflow_id)
    assert (remove.value.status, "retention" in remove.value.message) == (501, True)
    executor.terminate(workflow_id)
    assert executor.get_workflow_status(workflow_id).status == "TERMINATED"


def test_scopes_hold_under_api(server: LocalServer, workflows: WorkflowClient):
    reader = issue_key(new_principal(actions=["read"])).secret
    read_only = OrkesClients(configuration(server, reader)).get_workflow_client()
    workflow_id = workflows.start_workflow_by_name("ticket-triage", WAITING)
    assert read_only.get_workflow_status(workflow_id).status == "RUNNING"
    with pytest.raises(ApiException) as start:
        read_only.start_workflow_by_name("ticket-triage", TICKET)
    assert start.value.status == 403
    with pytest.raises(ApiException) as terminate:
        read_only.terminate_workflow(workflow_id)
    assert terminate.value.status == 403
    workflows.terminate_workflow(workflow_id)


def test_the_token_exchange(server: LocalServer):
    secret = admin_key()
    answer = requests.post(f"{server.url}/api/token", json={"keyId": "k", "keySecret": secret}, timeout=10)
    assert (answer.status_code, answer.json()) == (200, {"token": secret})
    refused = requests.post(f"{server.url}/api/token", json={"keyId": "k", "keySecret": "nope"}, timeout=10)
    assert refused.status_code == 401
    assert set(refused.json()) == {"status", "code", "message", "retryable"}
    missing = requests.get(f"{server.url}/api/workflow/abc", timeout=10)
    assert missing.status_code == 401
