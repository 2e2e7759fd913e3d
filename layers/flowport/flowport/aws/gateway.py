"""Step Functions gateway: start, describe and stop executions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowport.aws.errors import error_code, transient_failures_as_unavailable
from flowport.status import Observation, observation_from_description

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

from botocore.exceptions import ClientError


class StepFunctionsGateway:
    def __init__(self, client: SFNClient) -> None:
        self._client = client

    def start(self, state_machine_arn: str, name: str, input_json: str) -> None:
        """Start the named execution. Starting one that exists already is not an error: the name is ours,
        derived from DynamoDB's record, so an existing execution of that name is the one we meant."""
        with transient_failures_as_unavailable("Step Functions"):
            try:
                self._client.start_execution(stateMachineArn=state_machine_arn, name=name, input=input_json)
            except ClientError as error:
                if error_code(error) != "ExecutionAlreadyExists":
                    raise

    def describe(self, execution_arn: str) -> Observation | None:
        """The execution as Step Functions sees it, or None if it has no such execution."""
        with transient_failures_as_unavailable("Step Functions"):
            try:
                description = self._client.describe_execution(executionArn=execution_arn)
            except ClientError as error:
                if error_code(error) == "ExecutionDoesNotExist":
                    return None
                raise
        return observation_from_description(dict(description))

    def stop(self, execution_arn: str, cause: str) -> None:
        with transient_failures_as_unavailable("Step Functions"):
            self._client.stop_execution(executionArn=execution_arn, error="flowport.Cancelled", cause=cause)
