"""Many identical keyed requests at once start exactly one execution."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from flowport.local.cloud import LocalCloud

from tests.support import TICKET, Api


@pytest.mark.parametrize("strategy", ["RETURN_EXISTING", "FAIL", "FAIL_ON_RUNNING"])
def test_twenty_identical_keyed_requests_start_one_execution(cloud: LocalCloud, api: Api, strategy):
    headers = {"Idempotency-Key": "same-key", "X-On-Conflict": strategy}
    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(
            pool.map(lambda _: api.start(body={**TICKET, "delaySeconds": 30}, headers=headers), range(20))
        )
    machine = cloud.stack.state_machines["TicketTriageV2StateMachine"]
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine.arn)["executions"]
    assert len(executions) == 1
    statuses = sorted(response.status for response in responses)
    assert statuses.count(202) == 1, statuses
    allowed = {202, 409} if strategy != "RETURN_EXISTING" else {202, 200, 409}
    assert set(statuses) <= allowed, statuses
    named = {response.json()["executionId"] for response in responses if "executionId" in response.json()}
    assert named == {executions[0]["name"]}
    assert api.cancel(executions[0]["name"]).status == 200
