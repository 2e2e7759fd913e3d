"""Races: many identical requests at once start one execution, many cancels cancel it once, and many
retries redrive it once.

The racers call the use cases the handlers call, on threads of one process: a Powertools resolver keeps
its request in state the threads would share (which is why local mode runs each function in containers
of its own; tests/e2e/test_concurrency_http.py races whole requests over HTTP with distinct bodies).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import boto3
import pytest
from flowport import services
from flowport.api.problems import problem_response
from flowport.api.responses import json_body
from flowport.core.errors import FlowportError
from flowport.core.identity import Action
from flowport.core.models import ConflictStrategy, ExecutionSource
from flowport.local.cloud import LocalCloud
from flowport.usecases.retry import RetryCommand
from flowport.usecases.start import StartCommand

from tests.support import ADMIN, TICKET, Api, HttpResult, caller, wait_until

RACERS = 50
T = TypeVar("T")


def at_once(call: Callable[[], T], count: int = RACERS) -> list[T]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def executions_of(cloud: LocalCloud) -> list[str]:
    machine = cloud.stack.state_machines["TicketTriageV2StateMachine"]
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine.arn)["executions"]
    return [execution["name"] for execution in executions]


def answered(action: Callable[[], HttpResult]) -> HttpResult:
    """What the route would answer: the use case's result, or its error's problem document."""
    try:
        return action()
    except FlowportError as error:
        problem = problem_response(error)
        headers = {"content-type": "application/problem+json"}
        return HttpResult(problem.status_code, headers, str(problem.body))


def keyed_start(key: str, strategy: str, body: dict[str, object]) -> HttpResult:
    def start() -> HttpResult:
        started = services.start_execution().start(
            StartCommand(
                workflow="ticket-triage",
                version=None,
                input=body,
                source=ExecutionSource.HTTP_POST,
                caller=ADMIN,
                idempotency_key=key,
                on_conflict=ConflictStrategy(strategy),
            )
        )
        headers = {"idempotent-replayed": "true"} if started.replayed else {}
        return HttpResult(200 if started.replayed else 202, headers, json_body(started.execution))

    return answered(start)


def cancel(execution_id: str) -> HttpResult:
    return answered(
        lambda: HttpResult(200, {}, json_body(services.cancel_execution().cancel(execution_id, ADMIN)))
    )


def named(response: HttpResult) -> str | None:
    """The execution a start's answer names: its id, or the one a 409 conflicts with."""
    document = response.json()
    return document.get("executionId")


@pytest.mark.parametrize("strategy", ["RETURN_EXISTING", "FAIL", "FAIL_ON_RUNNING"])
def test_fifty_identical_keyed_requests_start_one_execution(cloud: LocalCloud, api: Api, strategy):
    responses = at_once(lambda: keyed_start(f"same-key-{strategy}", strategy, {**TICKET, "delaySeconds": 30}))
    [execution_id] = executions_of(cloud)
    statuses = sorted(response.status for response in responses)
    assert statuses.count(202) == 1, statuses
    for response in responses:
        if response.status == 200:  # a replay: only RETURN_EXISTING replays
            assert strategy == "RETURN_EXISTING"
            assert response.headers["idempotent-replayed"] == "true"
        elif response.status == 409:
            allowed = {"idempotency_key_in_flight"}
            if strategy != "RETURN_EXISTING":
                allowed.add("idempotency_conflict")
            assert response.problem_code in allowed, response.body
        else:
            assert response.status == 202, response.body
    # Every answer that names an execution names the one that runs, and no answer names another.
    assert {named(response) for response in responses} - {None} == {execution_id}
    assert api.cancel(execution_id).status == 200


def test_fifty_fail_on_running_requests_after_the_end_start_one_new_generation(cloud: LocalCloud, api: Api):
    body = {**TICKET, "delaySeconds": 30}
    first = keyed_start("generations", "FAIL_ON_RUNNING", body).json()["executionId"]
    assert api.cancel(first).status == 200
    responses = at_once(lambda: keyed_start("generations", "FAIL_ON_RUNNING", body))
    [second] = set(executions_of(cloud)) - {first}
    assert [response.status for response in responses].count(202) == 1
    assert {named(response) for response in responses} - {None} == {second}
    assert {response.status for response in responses} <= {202, 409}
    assert api.cancel(second).status == 200


def test_fifty_concurrent_cancels_cancel_once(cloud: LocalCloud, api: Api):
    execution_id = api.start(body={**TICKET, "delaySeconds": 60}).json()["executionId"]
    api.wait_for_status(execution_id, "RUNNING")
    responses = at_once(lambda: cancel(execution_id))
    cancelled = [response for response in responses if response.status == 200]
    assert len(cancelled) == 1, sorted(response.status for response in responses)
    assert cancelled[0].json()["cancelled"] is True
    for response in responses:
        if response.status != 200:
            # Before the winner records CANCELLED its cancellation is under way; after, it is finished.
            assert response.status == 409
            assert response.problem_code in {"cancellation_in_progress", "execution_not_cancellable"}
            assert response.json()["cancelled"] is False
    assert api.get(execution_id).json()["status"] == "CANCELLED"
    machine = cloud.stack.state_machines["TicketTriageV2StateMachine"]
    arn = f"{machine.arn.replace(':stateMachine:', ':execution:')}:{execution_id}"
    sfn = boto3.client("stepfunctions")
    # Step Functions stops it once: the stop that won; moto changes the status a moment after.
    wait_until(lambda: sfn.describe_execution(executionArn=arn)["status"] == "ABORTED")


def retry(execution_id: str, number: int) -> HttpResult:
    """One of many different retries of one execution: each with a key of its own (or none), and
    strategies and callers that vary, as unrelated clients would send them."""
    key = None if number % 5 == 0 else f"retry-{number}"
    strategy = ("RETURN_EXISTING", "FAIL", "FAIL_ON_RUNNING")[number % 3] if key else None
    who = ADMIN if number % 2 else caller(f"p_retrier{number:012d}", actions=(Action.RETRY, Action.READ))
    command = RetryCommand(
        execution_id, who, idempotency_key=key, on_conflict=ConflictStrategy(strategy) if strategy else None
    )

    def retried() -> HttpResult:
        started = services.retry_execution().retry(command)
        return HttpResult(200 if started.replayed else 202, {}, json_body(started.execution))

    return answered(retried)


@pytest.mark.parametrize("racers", [2, 20])
def test_concurrent_retries_with_different_keys_redrive_once(cloud: LocalCloud, api: Api, racers: int):
    execution_id = api.start(body={**TICKET, "delaySeconds": 30}).json()["executionId"]
    wait_until(lambda: api.get(execution_id).json().get("currentNode") == "WaitForAgentPool")
    assert api.cancel(execution_id).status == 200
    with ThreadPoolExecutor(max_workers=racers) as pool:
        responses = list(pool.map(lambda number: retry(execution_id, number), range(racers)))
    # Every retry asked for the same attempt, and it happened once: each answers that the execution runs
    # again, or that Step Functions, already running it, will not redrive it a second time.
    for response in responses:
        if response.status == 202:
            assert (response.json()["executionId"], response.json()["status"]) == (execution_id, "RUNNING")
        else:
            assert (response.status, response.problem_code) == (409, "execution_not_retryable"), response.body
    assert any(response.status == 202 for response in responses)
    machine = cloud.stack.state_machines["TicketTriageV2StateMachine"]
    arn = f"{machine.arn.replace(':stateMachine:', ':execution:')}:{execution_id}"
    sfn = boto3.client("stepfunctions")
    assert sfn.describe_execution(executionArn=arn)["redriveCount"] == 1
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    assert [event["type"] for event in history].count("ExecutionRedriven") == 1
    record = services.execution_store().get(execution_id, 0)
    assert record is not None
    assert (record.status.value, record.redrive_count) == ("RUNNING", 1)
    assert api.cancel(execution_id).status == 200
