"""Step Functions gateway: start, describe, read the history of, stop and redrive executions (the
WorkflowEngine port)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowport.aws.errors import error_code, transient_failures_as_unavailable
from flowport.core.errors import ExecutionNotRetryable
from flowport.core.status import Observation, observation_from_description

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient

from botocore.exceptions import ClientError

# One page of history is all a live view costs; progress is counted over it.
HISTORY_PAGE = 1000
# RedriveExecution's refusals: the execution is not one to redrive now, whatever a retry does. Each is a
# 409 whose detail is Step Functions' own message (throttling stays a 503, as for every call).
_REDRIVE_REFUSALS = {
    "ExecutionNotRedrivable": "Step Functions will not redrive it",
    "ExecutionDoesNotExist": "it has not reached Step Functions (it is queued, or its start never got "
    "there), so there is nothing to go on from",
    "ExecutionLimitExceeded": "the account runs as many executions as it may; retry later",
    "ValidationException": "Step Functions refused the request",
}


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

    def history_page(self, execution_arn: str) -> list[dict[str, Any]] | None:
        """The newest page of the execution's history (at most 1000 events, whatever its length, without
        inputs and outputs), or None if Step Functions has no such execution."""
        with transient_failures_as_unavailable("Step Functions"):
            try:
                page = self._client.get_execution_history(
                    executionArn=execution_arn,
                    reverseOrder=True,
                    maxResults=HISTORY_PAGE,
                    includeExecutionData=False,
                )
            except ClientError as error:
                if error_code(error) == "ExecutionDoesNotExist":
                    return None
                raise
        return [dict(event) for event in page["events"]]

    def full_history(self, execution_arn: str, include_data: bool) -> list[dict[str, Any]] | None:
        """Every event of the execution, oldest first, or None if Step Functions has no such execution.
        A standard execution's history stops at 25,000 events, so this is at most 25 calls."""
        events: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "executionArn": execution_arn,
            "maxResults": HISTORY_PAGE,
            "includeExecutionData": include_data,
        }
        with transient_failures_as_unavailable("Step Functions"):
            try:
                while True:
                    page = self._client.get_execution_history(**request)
                    events.extend(dict(event) for event in page["events"])
                    if not page.get("nextToken"):
                        return events
                    request["nextToken"] = page["nextToken"]
            except ClientError as error:
                if error_code(error) == "ExecutionDoesNotExist":
                    return None
                raise

    def stop(self, execution_arn: str, cause: str) -> bool:
        """Stop the execution; False if Step Functions has none of that name (its start is yet to come)."""
        with transient_failures_as_unavailable("Step Functions"):
            try:
                self._client.stop_execution(
                    executionArn=execution_arn, error="flowport.Cancelled", cause=cause
                )
            except ClientError as error:
                if error_code(error) == "ExecutionDoesNotExist":
                    return False
                raise
        return True

    def redrive(self, execution_arn: str, client_token: str | None = None) -> None:
        """Redrive the execution from where it stopped. A refusal is ExecutionNotRetryable, with Step
        Functions' reason; the same client token again within 15 minutes is not a second redrive."""
        arguments = {"executionArn": execution_arn}
        if client_token is not None:
            arguments["clientToken"] = client_token
        with transient_failures_as_unavailable("Step Functions"):
            try:
                self._client.redrive_execution(**arguments)
            except ClientError as error:
                code = error_code(error)
                if code not in _REDRIVE_REFUSALS:
                    raise
                message = str(error.response.get("Error", {}).get("Message") or "")
                reason = _REDRIVE_REFUSALS[code] + (f" ({message})" if message else "")
                execution_id = execution_arn.rsplit(":", 1)[-1]
                raise ExecutionNotRetryable(
                    f"Execution {execution_id} cannot be retried: {reason}", execution_id=execution_id
                ) from error
