"""Races: many identical requests at once start one execution, and many cancels cancel it once."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import boto3
import pytest
from flowport.local.cloud import LocalCloud

from tests.support import TICKET, Api, HttpResult, wait_until

RACERS = 50
T = TypeVar("T")


def at_once(call: Callable[[], T], count: int = RACERS) -> list[T]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: call(), range(count)))


def executions_of(cloud: LocalCloud) -> list[str]:
    machine = cloud.stack.state_machines["TicketTriageV2StateMachine"]
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine.arn)["executions"]
    return [execution["name"] for execution in executions]


def named(response: HttpResult) -> str | None:
    """The execution a start's answer names: its id, or the one a 409 conflicts with."""
    document = response.json()
    return document.get("executionId")


@pytest.mark.parametrize("strategy", ["RETURN_EXISTING", "FAIL", "FAIL_ON_RUNNING"])
def test_fifty_identical_keyed_requests_start_one_execution(cloud: LocalCloud, api: Api, strategy):
    headers = {"Idempotency-Key": f"same-key-{strategy}", "X-On-Conflict": strategy}
    responses = at_once(lambda: api.start(body={**TICKET, "delaySeconds": 30}, headers=headers))
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
    headers = {"Idempotency-Key": "generations", "X-On-Conflict": "FAIL_ON_RUNNING"}
    body = {**TICKET, "delaySeconds": 30}
    first = api.start(body=body, headers=headers).json()["executionId"]
    assert api.cancel(first).status == 200
    responses = at_once(lambda: api.start(body=body, headers=headers))
    [second] = set(executions_of(cloud)) - {first}
    assert [response.status for response in responses].count(202) == 1
    assert {named(response) for response in responses} - {None} == {second}
    assert {response.status for response in responses} <= {202, 409}
    assert api.cancel(second).status == 200


def test_fifty_concurrent_cancels_cancel_once(cloud: LocalCloud, api: Api):
    execution_id = api.start(body={**TICKET, "delaySeconds": 60}).json()["executionId"]
    api.wait_for_status(execution_id, "RUNNING")
    responses = at_once(lambda: api.cancel(execution_id))
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
