"""The Step Functions gateway against moto."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from flowport.aws.gateway import StepFunctionsGateway
from flowport.core.errors import ServiceUnavailable
from flowport.core.models import ExecutionStatus, execution_arn
from flowport.local.cloud import LocalCloud


@pytest.fixture
def machine_arn(cloud: LocalCloud) -> str:
    return cloud.stack.state_machines["TicketTriageV2StateMachine"].arn


def test_start_describe_and_stop(machine_arn: str):
    gateway = StepFunctionsGateway(boto3.client("stepfunctions"))
    payload = '{"subject": "s", "customerTier": "free", "delaySeconds": 30}'
    gateway.start(machine_arn, "run-1", payload)
    gateway.start(machine_arn, "run-1", payload)  # the same name again is the same execution
    arn = execution_arn(machine_arn, "run-1")
    observation = gateway.describe(arn)
    assert observation is not None
    assert observation.status is ExecutionStatus.RUNNING
    assert gateway.describe(execution_arn(machine_arn, "never-started")) is None


def test_throttling_becomes_service_unavailable(machine_arn: str, monkeypatch: pytest.MonkeyPatch):
    client = boto3.client("stepfunctions")

    def throttled(**_: object) -> None:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "StartExecution"
        )

    monkeypatch.setattr(client, "start_execution", throttled)
    with pytest.raises(ServiceUnavailable) as raised:
        StepFunctionsGateway(client).start(machine_arn, "run-2", "{}")
    assert raised.value.headers["Retry-After"] == "2"
