"""Failures between DynamoDB and Step Functions: each ends with the documented answer, nothing stuck."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from flowport import services
from flowport.aws import clients
from flowport.aws.slots import LEADING_KEY_PREFIX as SLOTS_PREFIX
from flowport.aws.store import ExecutionStore
from flowport.core.errors import ServiceUnavailable
from flowport.core.models import ConflictStrategy, ExecutionSource, ExecutionStatus
from flowport.core.ports import WorkflowEngine
from flowport.local.cloud import LocalCloud
from flowport.settings import get_settings
from flowport.usecases.admission import Admission
from flowport.usecases.cancel import CancelExecution
from flowport.usecases.live import LiveExecutions
from flowport.usecases.start import StartCommand, StartExecution

from tests.support import ADMIN, TICKET, Api, aws_failing, wait_until

KEY = "fault-key"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def starter(clock: Clock, engine: WorkflowEngine | None = None) -> StartExecution:
    """The start use case on the handlers' own adapters, with this clock (and maybe another engine)."""
    engine = engine or services.workflow_engine()
    return StartExecution(
        services.registry(),
        services.execution_store(),
        engine,
        admission(clock, engine),
        get_settings(),
        clock=clock,
    )


def admission(clock: Clock, engine: WorkflowEngine | None = None) -> Admission:
    return Admission(
        services.registry(),
        services.execution_store(),
        services.slot_store(),
        services.queue_index(),
        engine or services.workflow_engine(),
        get_settings(),
        clock=clock,
    )


def live(clock: Clock) -> LiveExecutions:
    return LiveExecutions(
        services.registry(),
        services.execution_store(),
        services.live_views(),
        services.workflow_engine(),
        services.queue_index(),
        get_settings(),
        clock=clock,
    )


def canceller(clock: Clock) -> CancelExecution:
    return CancelExecution(
        services.registry(), services.execution_store(), services.workflow_engine(), clock=clock
    )


class EngineWhoseStarts:
    """Step Functions as the handlers see it, but for its starts, which `start` replaces."""

    def __init__(self, start: Callable[[str, str, str], None]) -> None:
        self._engine = services.workflow_engine()
        self.start = start

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


def failing_starts(failure: Callable[[], BaseException]) -> EngineWhoseStarts:
    def fail(*_: str) -> None:
        raise failure()

    return EngineWhoseStarts(fail)


def command(
    strategy: ConflictStrategy = ConflictStrategy.RETURN_EXISTING, key: str | None = KEY
) -> StartCommand:
    return StartCommand(
        workflow="ticket-triage",
        version=None,
        input={**TICKET, "delaySeconds": 30},
        source=ExecutionSource.HTTP_POST,
        caller=ADMIN,
        idempotency_key=key,
        on_conflict=strategy if key else None,
    )


def executions_started(cloud: LocalCloud) -> list[str]:
    client = boto3.client("stepfunctions")
    return [
        execution["name"]
        for machine in cloud.stack.state_machines.values()
        for execution in client.list_executions(stateMachineArn=machine.arn)["executions"]
    ]


def cancelled_while_queued(clock: Clock) -> EngineWhoseStarts:
    """A cancel arrives after the record was written and before the start request reaches Step Functions."""

    def cancel_then_start(state_machine_arn: str, name: str, input_json: str) -> None:
        assert canceller(clock).cancel(name, ADMIN).cancelled
        services.workflow_engine().start(state_machine_arn, name, input_json)

    return EngineWhoseStarts(cancel_then_start)


@pytest.mark.parametrize("strategy", list(ConflictStrategy))
def test_a_failed_start_is_503_and_the_retry_with_the_key_starts_it(cloud: LocalCloud, strategy):
    clock = Clock()
    unavailable = starter(clock, failing_starts(lambda: ServiceUnavailable("busy", retry_after_seconds=2)))
    with pytest.raises(ServiceUnavailable):
        unavailable.start(command(strategy))
    assert executions_started(cloud) == []
    retried = starter(clock).start(command(strategy))
    assert not retried.replayed  # this is the start the client asked for, not a duplicate
    assert executions_started(cloud) == [retried.execution.execution_id]


def test_a_failed_unkeyed_start_leaves_a_failed_record_not_a_stuck_one(
    cloud: LocalCloud, api: Api, monkeypatch
):
    def throttled(*_: object) -> None:
        raise ServiceUnavailable("Step Functions is busy; retry shortly", retry_after_seconds=2)

    monkeypatch.setattr(services.workflow_engine(), "start", throttled)
    response = api.start()
    assert (response.status, response.problem_code) == (503, "service_unavailable")
    assert response.headers["retry-after"] == "2"
    store = services.execution_store()
    client = boto3.client("dynamodb")
    items = records_in(client.scan(TableName=get_settings().table_name)["Items"])  # routes never scan
    assert len(items) == 1
    record = store.get(items[0]["executionId"]["S"], datetime.now(UTC).timestamp())
    assert record is not None
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None
    assert record.error.code == "start_failed"


def records_in(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of a scan but the workflows' slot counters."""
    return [item for item in items if not item["pk"]["S"].startswith(SLOTS_PREFIX)]


def free_slots_only(items: list[dict[str, Any]]) -> bool:
    """Whether every slot counter of a scan has no holder."""
    return all(item["running"]["N"] == "0" for item in items if item["pk"]["S"].startswith(SLOTS_PREFIX))


class Crash(BaseException):
    """The process dying between the conditional write and StartExecution."""


def test_a_crash_after_the_write_is_in_flight_then_taken_over(cloud: LocalCloud):
    clock = Clock()
    with pytest.raises(Crash):
        starter(clock, failing_starts(Crash)).start(command())
    from flowport.core.errors import IdempotencyKeyInFlight

    with pytest.raises(IdempotencyKeyInFlight) as in_flight:
        starter(clock).start(command())
    clock.advance(get_settings().start_lease_seconds)
    taken_over = starter(clock).start(command())
    assert taken_over.execution.execution_id == in_flight.value.extensions["execution_id"]
    assert executions_started(cloud) == [taken_over.execution.execution_id]
    replay = starter(clock).start(command())
    assert (replay.replayed, replay.execution.execution_id) == (True, taken_over.execution.execution_id)
    assert executions_started(cloud) == [taken_over.execution.execution_id]


def test_an_execution_never_started_before_the_deadline_is_failed_and_its_key_can_start_again(
    cloud: LocalCloud,
):
    clock = Clock()
    with pytest.raises(Crash):
        starter(clock, failing_starts(Crash)).start(command(ConflictStrategy.FAIL_ON_RUNNING))
    clock.advance(get_settings().start_deadline_seconds)
    abandoned_id = starter(clock).start(command(ConflictStrategy.RETURN_EXISTING))
    assert abandoned_id.execution.status is ExecutionStatus.FAILED
    detail = live(clock).look(abandoned_id.execution.execution_id, None).record
    assert detail.status is ExecutionStatus.FAILED
    assert detail.error is not None
    assert detail.error.code == "start_abandoned"
    fresh = starter(clock).start(command(ConflictStrategy.FAIL_ON_RUNNING))
    assert fresh.execution.execution_id != abandoned_id.execution.execution_id
    assert executions_started(cloud) == [fresh.execution.execution_id]


def test_dynamodb_throttling_is_503(api: Api):
    with aws_failing(clients.dynamodb(), "BatchGetItem", "ProvisionedThroughputExceededException"):
        response = api.get("2f1c6a8e-3b7d-4c59-9e0a-6d2b8f4a1c37")
    assert (response.status, response.problem_code) == (503, "service_unavailable")
    assert "retry-after" in response.headers


def test_a_transaction_conflict_on_the_key_is_409_in_flight(api: Api):
    reasons = [{"Code": "TransactionConflict"}, {"Code": "None"}]
    with aws_failing(
        clients.dynamodb(), "TransactWriteItems", "TransactionCanceledException", CancellationReasons=reasons
    ):
        response = api.start(headers={"Idempotency-Key": KEY, "X-On-Conflict": "FAIL"})
    assert (response.status, response.problem_code) == (409, "idempotency_key_in_flight")


def client_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [KEY, None])
def test_a_start_step_functions_refuses_is_503_and_leaves_nothing_stuck(cloud: LocalCloud, key):
    """Not throttling: a refusal (here AccessDenied). The documented 503, the key free for its retry, an
    unkeyed record FAILED rather than QUEUED."""
    clock = Clock()
    refusing = starter(clock, failing_starts(lambda: client_error("AccessDeniedException", "StartExecution")))
    with pytest.raises(ServiceUnavailable):
        refusing.start(command(key=key))
    assert executions_started(cloud) == []
    if key is None:
        [item] = records_in(boto3.client("dynamodb").scan(TableName=get_settings().table_name)["Items"])
        record = live(clock).look(item["executionId"]["S"], None).record
        assert (record.status, record.error.code if record.error else None) == (
            ExecutionStatus.FAILED,
            "start_failed",
        )
    else:
        retried = starter(clock).start(command(key=key))  # at once: the lease was released
        assert executions_started(cloud) == [retried.execution.execution_id]


def test_a_throttled_keyed_write_is_503_writes_nothing_and_the_retry_starts(cloud: LocalCloud, api: Api):
    headers = {"Idempotency-Key": KEY, "X-On-Conflict": "FAIL"}
    with aws_failing(clients.dynamodb(), "TransactWriteItems", "ProvisionedThroughputExceededException"):
        response = api.start(body={**TICKET, "delaySeconds": 30}, headers=headers)
    assert (response.status, response.problem_code) == (503, "service_unavailable")
    items = boto3.client("dynamodb").scan(TableName=get_settings().table_name)["Items"]
    assert records_in(items) == []
    assert free_slots_only(items)
    retried = api.start(body={**TICKET, "delaySeconds": 30}, headers=headers)
    assert retried.status == 202
    assert executions_started(cloud) == [retried.json()["executionId"]]
    assert api.cancel(retried.json()["executionId"]).status == 200


def test_a_throttled_cancel_is_503_and_its_retry_cancels(api: Api):
    execution_id = api.start(body={**TICKET, "delaySeconds": 60}).json()["executionId"]
    api.wait_for_status(execution_id, "RUNNING")
    with aws_failing(clients.dynamodb(), "UpdateItem", "ThrottlingException"):
        response = api.cancel(execution_id)
    assert (response.status, response.problem_code) == (503, "service_unavailable")
    assert api.get(execution_id).json()["status"] == "RUNNING"  # nothing half-cancelled
    assert api.cancel(execution_id).json()["cancelled"] is True
    assert api.get(execution_id).json()["status"] == "CANCELLED"


def test_a_stop_step_functions_throttles_is_503_and_the_cancel_can_be_retried(api: Api, monkeypatch):
    execution_id = api.start(body={**TICKET, "delaySeconds": 60}).json()["executionId"]
    api.wait_for_status(execution_id, "RUNNING")
    with aws_failing(clients.stepfunctions(), "StopExecution", "ThrottlingException"):
        response = api.cancel(execution_id)
    assert (response.status, response.problem_code) == (503, "service_unavailable")
    assert api.cancel(execution_id).json()["cancelled"] is True  # the claim was withdrawn, not left held


@pytest.mark.parametrize("key", [KEY, None])
def test_an_execution_cancelled_before_its_start_reached_step_functions_is_stopped_when_it_runs(
    cloud: LocalCloud, key: str | None
):
    clock = Clock()
    started = starter(clock, cancelled_while_queued(clock)).start(command(key=key))
    store = ExecutionStore(boto3.client("dynamodb"), get_settings().table_name)
    record = store.get(started.execution.execution_id, clock.now.timestamp())
    assert record is not None

    # The sync function, told it runs, stops it: the client was told it was cancelled.
    stepfunctions = boto3.client("stepfunctions")
    wait_until(
        lambda: stepfunctions.describe_execution(executionArn=record.execution_arn)["status"] == "ABORTED"
    )
    assert record.status is ExecutionStatus.CANCELLED
    # Still the cancelled record the client was told of; its ABORTED event may have added how far it got.
    after = store.get(record.execution_id, clock.now.timestamp())
    assert after is not None
    assert after.model_copy(update={"progress": None}) == record
