"""Failures between DynamoDB and Step Functions: each ends with the documented answer, nothing stuck."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from flowport import services
from flowport.aws.gateway import StepFunctionsGateway
from flowport.aws.store import ExecutionStore
from flowport.errors import ServiceUnavailable
from flowport.executions import ExecutionService, StartCommand
from flowport.local.cloud import LocalCloud
from flowport.models import ConflictStrategy, ExecutionSource, ExecutionStatus
from flowport.registry import load_registry
from flowport.settings import get_settings

from tests.support import TICKET, Api, wait_until

KEY = "fault-key"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_service(clock: Clock, gateway: StepFunctionsGateway | None = None) -> ExecutionService:
    settings = get_settings()
    return ExecutionService(
        registry=load_registry(settings.workflows_path),
        store=ExecutionStore(boto3.client("dynamodb"), settings.table_name),
        gateway=gateway or StepFunctionsGateway(boto3.client("stepfunctions")),
        settings=settings,
        clock=clock,
    )


def command(
    strategy: ConflictStrategy = ConflictStrategy.RETURN_EXISTING, key: str | None = KEY
) -> StartCommand:
    return StartCommand(
        workflow="ticket-triage",
        version=None,
        input={**TICKET, "delaySeconds": 30},
        source=ExecutionSource.HTTP_POST,
        idempotency_key=key,
        on_conflict=strategy if key else None,
    )


class FailingGateway(StepFunctionsGateway):
    def __init__(self, failure: Callable[[], Exception]) -> None:
        super().__init__(boto3.client("stepfunctions"))
        self.failure = failure

    def start(self, state_machine_arn: str, name: str, input_json: str) -> None:
        raise self.failure()


def executions_started(cloud: LocalCloud) -> list[str]:
    client = boto3.client("stepfunctions")
    return [
        execution["name"]
        for machine in cloud.stack.state_machines.values()
        for execution in client.list_executions(stateMachineArn=machine.arn)["executions"]
    ]


class CancelledWhileQueued(StepFunctionsGateway):
    """A cancel arrives after the record was written and before the start request reaches Step Functions."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(boto3.client("stepfunctions"))
        self.clock = clock

    def start(self, state_machine_arn: str, name: str, input_json: str) -> None:
        assert make_service(self.clock).cancel(name).cancelled
        super().start(state_machine_arn, name, input_json)


@pytest.mark.parametrize("strategy", list(ConflictStrategy))
def test_a_failed_start_is_503_and_the_retry_with_the_key_starts_it(cloud: LocalCloud, strategy):
    clock = Clock()
    unavailable = make_service(
        clock, FailingGateway(lambda: ServiceUnavailable("busy", retry_after_seconds=2))
    )
    with pytest.raises(ServiceUnavailable):
        unavailable.start(command(strategy))
    assert executions_started(cloud) == []
    retried = make_service(clock).start(command(strategy))
    assert not retried.replayed  # this is the start the client asked for, not a duplicate
    assert executions_started(cloud) == [retried.execution.execution_id]


def test_a_failed_unkeyed_start_leaves_a_failed_record_not_a_stuck_one(
    cloud: LocalCloud, api: Api, monkeypatch
):
    def throttled(*_: object) -> None:
        raise ServiceUnavailable("Step Functions is busy; retry shortly", retry_after_seconds=2)

    monkeypatch.setattr(services.execution_service()._gateway, "start", throttled)
    response = api.start()
    assert (response.status, response.problem_code) == (503, "service_unavailable")
    assert response.headers["retry-after"] == "2"
    store = services.execution_service()._store
    client = boto3.client("dynamodb")
    items = client.scan(TableName=get_settings().table_name)["Items"]  # a test may scan; routes never do
    assert len(items) == 1
    record = store.get(items[0]["executionId"]["S"], datetime.now(UTC).timestamp())
    assert record is not None
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None
    assert record.error.code == "start_failed"


class Crash(BaseException):
    """The process dying between the conditional write and StartExecution."""


def test_a_crash_after_the_write_is_in_flight_then_taken_over(cloud: LocalCloud):
    clock = Clock()
    with pytest.raises(Crash):
        make_service(clock, FailingGateway(Crash)).start(command())
    from flowport.errors import IdempotencyKeyInFlight

    with pytest.raises(IdempotencyKeyInFlight) as in_flight:
        make_service(clock).start(command())
    clock.advance(get_settings().start_lease_seconds)
    taken_over = make_service(clock).start(command())
    assert taken_over.execution.execution_id == in_flight.value.extensions["execution_id"]
    assert executions_started(cloud) == [taken_over.execution.execution_id]
    replay = make_service(clock).start(command())
    assert (replay.replayed, replay.execution.execution_id) == (True, taken_over.execution.execution_id)
    assert executions_started(cloud) == [taken_over.execution.execution_id]


def test_an_execution_never_started_before_the_deadline_is_failed_and_its_key_can_start_again(
    cloud: LocalCloud,
):
    clock = Clock()
    with pytest.raises(Crash):
        make_service(clock, FailingGateway(Crash)).start(command(ConflictStrategy.FAIL_ON_RUNNING))
    clock.advance(get_settings().start_deadline_seconds)
    abandoned_id = make_service(clock).start(command(ConflictStrategy.RETURN_EXISTING))
    assert abandoned_id.execution.status is ExecutionStatus.FAILED
    detail = make_service(clock).get(abandoned_id.execution.execution_id)
    assert detail.status is ExecutionStatus.FAILED
    assert detail.error is not None
    assert detail.error.code == "start_abandoned"
    fresh = make_service(clock).start(command(ConflictStrategy.FAIL_ON_RUNNING))
    assert fresh.execution.execution_id != abandoned_id.execution.execution_id
    assert executions_started(cloud) == [fresh.execution.execution_id]


def test_dynamodb_throttling_is_503(api: Api, monkeypatch):
    client = services.execution_service()._store._client

    def throttled(**_: object) -> None:
        error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
        raise ClientError(error, "GetItem")  # type: ignore[arg-type]

    monkeypatch.setattr(client, "get_item", throttled)
    response = api.get("2f1c6a8e-3b7d-4c59-9e0a-6d2b8f4a1c37")
    assert (response.status, response.problem_code) == (503, "service_unavailable")
    assert "retry-after" in response.headers


def test_a_transaction_conflict_on_the_key_is_409_in_flight(api: Api, monkeypatch):
    client = services.execution_service()._store._client

    def conflicting(**_: object) -> None:
        error = {
            "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
            "CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}],
        }
        raise ClientError(error, "TransactWriteItems")  # type: ignore[arg-type]

    monkeypatch.setattr(client, "transact_write_items", conflicting)
    response = api.start(headers={"Idempotency-Key": KEY, "X-On-Conflict": "FAIL"})
    assert (response.status, response.problem_code) == (409, "idempotency_key_in_flight")


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [KEY, None])
def test_a_start_step_functions_refuses_is_503_and_leaves_nothing_stuck(cloud: LocalCloud, key):
    """Not throttling: a refusal (here AccessDenied). The documented 503, the key free for its retry, an
    unkeyed record FAILED rather than QUEUED."""
    clock = Clock()
    refusing = make_service(
        clock, FailingGateway(lambda: client_error("AccessDeniedException", "StartExecution"))
    )
    with pytest.raises(ServiceUnavailable):
        refusing.start(command(key=key))
    assert executions_started(cloud) == []
    if key is None:
        [item] = boto3.client("dynamodb").scan(TableName=get_settings().table_name)["Items"]
        record = make_service(clock).get(item["executionId"]["S"])
        assert (record.status, record.error.code if record.error else None) == (
            ExecutionStatus.FAILED,
            "start_failed",
        )
    else:
        retried = make_service(clock).start(command(key=key))  # at once: the lease was released
        assert executions_started(cloud) == [retried.execution.execution_id]


def test_a_throttled_keyed_write_is_503_writes_nothing_and_the_retry_starts(
    cloud: LocalCloud, api: Api, monkeypatch
):
    client = services.execution_service()._store._client
    original = client.transact_write_items

    def throttled(**_: object) -> None:
        raise client_error("ProvisionedThroughputExceededException", "TransactWriteItems")

    monkeypatch.setattr(client, "transact_write_items", throttled)
    headers = {"Idempotency-Key": KEY, "X-On-Conflict": "FAIL"}
    response = api.start(body={**TICKET, "delaySeconds": 30}, headers=headers)
    assert (response.status, response.problem_code) == (503, "service_unavailable")
    assert boto3.client("dynamodb").scan(TableName=get_settings().table_name)["Items"] == []
    monkeypatch.setattr(client, "transact_write_items", original)
    retried = api.start(body={**TICKET, "delaySeconds": 30}, headers=headers)
    assert retried.status == 202
    assert executions_started(cloud) == [retried.json()["executionId"]]
    assert api.cancel(retried.json()["executionId"]).status == 200


def test_a_throttled_cancel_is_503_and_its_retry_cancels(api: Api, monkeypatch):
    execution_id = api.start(body={**TICKET, "delaySeconds": 60}).json()["executionId"]
    api.wait_for_status(execution_id, "RUNNING")
    client = services.execution_service()._store._client
    original = client.update_item

    def throttled(**_: object) -> None:
        raise client_error("ThrottlingException", "UpdateItem")

    monkeypatch.setattr(client, "update_item", throttled)
    response = api.cancel(execution_id)
    assert (response.status, response.problem_code) == (503, "service_unavailable")
    monkeypatch.setattr(client, "update_item", original)
    assert api.get(execution_id).json()["status"] == "RUNNING"  # nothing half-cancelled
    assert api.cancel(execution_id).json()["cancelled"] is True
    assert api.get(execution_id).json()["status"] == "CANCELLED"


def test_a_stop_step_functions_throttles_is_503_and_the_cancel_can_be_retried(api: Api, monkeypatch):
    execution_id = api.start(body={**TICKET, "delaySeconds": 60}).json()["executionId"]
    api.wait_for_status(execution_id, "RUNNING")
    gateway = services.execution_service()._gateway

    def throttled(*_: object, **__: object) -> None:
        raise ServiceUnavailable("Step Functions is busy; retry shortly", retry_after_seconds=2)

    monkeypatch.setattr(gateway, "stop", throttled)
    response = api.cancel(execution_id)
    assert (response.status, response.problem_code) == (503, "service_unavailable")
    monkeypatch.undo()
    assert api.cancel(execution_id).json()["cancelled"] is True  # the claim was withdrawn, not left held


@pytest.mark.parametrize("key", [KEY, None])
def test_an_execution_cancelled_before_its_start_reached_step_functions_is_stopped_when_it_runs(
    cloud: LocalCloud, key: str | None
):
    clock = Clock()
    started = make_service(clock, CancelledWhileQueued(clock)).start(command(key=key))
    store = ExecutionStore(boto3.client("dynamodb"), get_settings().table_name)
    record = store.get(started.execution.execution_id, clock.now.timestamp())
    assert record is not None

    # The sync function, told it runs, stops it: the client was told it was cancelled.
    stepfunctions = boto3.client("stepfunctions")
    wait_until(
        lambda: stepfunctions.describe_execution(executionArn=record.execution_arn)["status"] == "ABORTED"
    )
    assert record.status is ExecutionStatus.CANCELLED
    assert store.get(record.execution_id, clock.now.timestamp()) == record
