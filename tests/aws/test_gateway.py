"""The Step Functions gateway against moto."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from flowport.aws.gateway import StepFunctionsGateway
from flowport.core.errors import ExecutionNotRetryable, ServiceUnavailable
from flowport.core.models import ExecutionStatus, execution_arn
from flowport.local.cloud import LocalCloud

from tests.support import aws_failing, wait_until


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


def _ended(gateway: StepFunctionsGateway, arn: str) -> ExecutionStatus:
    def status() -> ExecutionStatus | None:
        observation = gateway.describe(arn)
        return observation.status if observation and observation.status.is_terminal else None

    return wait_until(status)


def test_redrive_runs_a_failed_execution_again_and_refusals_are_409s(machine_arn: str):
    gateway = StepFunctionsGateway(boto3.client("stepfunctions"))
    gateway.start(machine_arn, "spam-1", '{"subject": "spam", "customerTier": "free", "delaySeconds": 0}')
    arn = execution_arn(machine_arn, "spam-1")
    assert _ended(gateway, arn) is ExecutionStatus.FAILED
    gateway.redrive(arn, client_token="t-1")
    gateway.redrive(arn, client_token="t-1")  # the same token again: the same redrive, not another
    assert _ended(gateway, arn) is ExecutionStatus.FAILED  # its Reject state failed it again
    described = boto3.client("stepfunctions").describe_execution(executionArn=arn)
    assert (described["redriveCount"], described["redriveStatus"]) == (1, "REDRIVABLE")
    gateway.start(machine_arn, "fine-1", '{"subject": "s", "customerTier": "free", "delaySeconds": 0}')
    done = execution_arn(machine_arn, "fine-1")
    assert _ended(gateway, done) is ExecutionStatus.COMPLETED
    with pytest.raises(
        ExecutionNotRetryable, match="Execution is SUCCEEDED and cannot be redriven"
    ) as refused:
        gateway.redrive(done)
    assert (refused.value.status, refused.value.code) == (409, "execution_not_retryable")
    assert refused.value.extensions == {"execution_id": "fine-1"}
    with pytest.raises(ExecutionNotRetryable, match="has not reached Step Functions"):
        gateway.redrive(execution_arn(machine_arn, "never-started"))


def test_a_throttled_redrive_is_service_unavailable(machine_arn: str):
    client = boto3.client("stepfunctions")
    with aws_failing(client, "RedriveExecution", "ThrottlingException"), pytest.raises(ServiceUnavailable):
        StepFunctionsGateway(client).redrive(execution_arn(machine_arn, "any"))
