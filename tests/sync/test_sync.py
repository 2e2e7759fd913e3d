"""The sync function, fed real-shaped EventBridge events: forward only, duplicates and disorder harmless."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flowport.local.cloud import LocalCloud
from flowport.local.functions import invoke
from flowport.local.template import Stack

from tests.support import TICKET, Api, load_event, wait_until


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def status_change(cloud: LocalCloud, execution_id: str, status: str, **detail: Any) -> dict[str, Any]:
    """events/execution-status-change.json, about one of this stack's executions, happening now.

    Its times are the sample's own only as a shape: the record's retention is counted from the stop date,
    so an event dated by the file would be long expired on a later day.
    """
    event = copy.deepcopy(load_event("execution-status-change"))
    machine = cloud.stack.state_machines["TicketTriageV2StateMachine"]
    arn = f"{machine.arn.replace(':stateMachine:', ':execution:')}:{execution_id}"
    now = datetime.now(UTC)
    event["time"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    event["resources"] = [arn]
    event["detail"].update(
        {
            "executionArn": arn,
            "stateMachineArn": machine.arn,
            "name": execution_id,
            "status": status,
            "startDate": _millis(now - timedelta(seconds=2)),
            "stopDate": _millis(now) if status != "RUNNING" else None,
            **detail,
        }
    )
    if status != "SUCCEEDED" and "output" not in detail:
        event["detail"]["output"] = None
    return event


def sync(stack: Stack, event: dict[str, Any]) -> bool:
    result: dict[str, Any] = invoke(stack.functions["SyncFunction"], event)
    return bool(result["applied"])


@pytest.fixture
def running_execution(cloud: LocalCloud, api: Api) -> str:
    execution_id = str(api.start(body={**TICKET, "delaySeconds": 60}).json()["executionId"])
    wait_until(lambda: api.get(execution_id).json()["status"] == "RUNNING")
    cloud.close()  # from here on, only the events the test sends
    return execution_id


def stored(api: Api, execution_id: str) -> dict[str, Any]:
    document: dict[str, Any] = api.get(execution_id).json()
    return document


def test_the_sample_event_for_an_unknown_execution_changes_nothing(cloud: LocalCloud):
    assert sync(cloud.stack, load_event("execution-status-change")) is False


def test_running_then_succeeded_records_the_outcome_once(cloud: LocalCloud, api: Api, running_execution: str):
    assert sync(cloud.stack, status_change(cloud, running_execution, "RUNNING")) is False  # already RUNNING
    succeeded = status_change(cloud, running_execution, "SUCCEEDED")
    assert sync(cloud.stack, succeeded) is True
    assert sync(cloud.stack, succeeded) is False  # a duplicate delivery
    document = stored(api, running_execution)
    assert document["status"] == "COMPLETED"
    assert document["output"]["queue"] == "priority"
    stopped = datetime.fromtimestamp(succeeded["detail"]["stopDate"] / 1000, UTC)
    assert datetime.fromisoformat(document["completedAt"]) == stopped


def test_a_late_running_event_never_moves_a_finished_record_back(
    cloud: LocalCloud, api: Api, running_execution: str
):
    failed = status_change(
        cloud, running_execution, "FAILED", error="TicketRejected", cause="Looks like spam"
    )
    assert sync(cloud.stack, failed) is True
    assert sync(cloud.stack, status_change(cloud, running_execution, "RUNNING")) is False
    assert sync(cloud.stack, status_change(cloud, running_execution, "SUCCEEDED")) is False
    document = stored(api, running_execution)
    assert document["status"] == "FAILED"
    assert document["error"] == {"code": "TicketRejected", "message": "Looks like spam"}


def test_a_cancelled_records_aborted_event_adds_how_far_it_got_once_and_nothing_moves_it_back(
    cloud: LocalCloud, api: Api, running_execution: str
):
    assert api.cancel(running_execution).status == 200
    assert "progress" not in stored(api, running_execution)  # the cancel wrote CANCELLED, no more
    assert sync(cloud.stack, status_change(cloud, running_execution, "ABORTED")) is True
    for status in ("ABORTED", "RUNNING", "ABORTED"):
        assert sync(cloud.stack, status_change(cloud, running_execution, status)) is False
    document = stored(api, running_execution)
    assert document["status"] == "CANCELLED"
    assert 0 < document["progress"] < 100
    assert "currentNode" not in document


@pytest.mark.parametrize(
    ("ended", "expected"), [("SUCCEEDED", "COMPLETED"), ("FAILED", "FAILED"), ("TIMED_OUT", "TIMED_OUT")]
)
def test_an_execution_that_ended_before_its_stop_keeps_how_it_really_ended(
    cloud: LocalCloud, api: Api, running_execution: str, ended: str, expected: str
):
    """The cancel claims what the record says runs; Step Functions may have finished it already (the sync
    function had not heard yet). Its own end then wins, output and all: nothing is lost to the cancel."""
    assert api.cancel(running_execution).json()["cancelled"] is True
    event = status_change(cloud, running_execution, ended, error="Boom", cause="it broke")
    assert sync(cloud.stack, event) is True
    assert sync(cloud.stack, event) is False  # once only
    document = stored(api, running_execution)
    assert document["status"] == expected
    if expected == "COMPLETED":
        assert document["output"]["queue"] == "priority"
    else:
        assert document["error"]["code"] == "Boom"


def test_an_output_left_out_of_the_event_is_read_from_step_functions(
    cloud: LocalCloud, api: Api, running_execution: str, monkeypatch: pytest.MonkeyPatch
):
    from flowport import services
    from flowport.core.status import Observation

    observed = Observation(None, None, None, {"big": True}, None)  # type: ignore[arg-type]
    monkeypatch.setattr(services.workflow_engine(), "describe", lambda _arn: observed)
    event = status_change(
        cloud, running_execution, "SUCCEEDED", output=None, outputDetails={"included": False}
    )
    assert sync(cloud.stack, event) is True
    assert stored(api, running_execution)["output"] == {"big": True}


def test_an_output_too_large_for_dynamodb_stays_in_step_functions(
    cloud: LocalCloud, api: Api, running_execution: str, monkeypatch: pytest.MonkeyPatch
):
    from flowport import services
    from flowport.core.status import Observation

    big = {"text": "x" * (320 * 1024)}
    event = status_change(cloud, running_execution, "SUCCEEDED", output=json.dumps(big))
    assert sync(cloud.stack, event) is True
    described = Observation(None, None, None, big, None)  # type: ignore[arg-type]
    monkeypatch.setattr(services.workflow_engine(), "describe", lambda _arn: described)
    document = stored(api, running_execution)
    assert document["output"] == big
    assert document["outputFromStepFunctions"] is True


def test_real_executions_are_synced_by_the_local_eventbridge(api: Api):
    execution_id = api.start(body={**TICKET, "delaySeconds": 0}).json()["executionId"]
    from flowport import services

    store = services.execution_store()
    record = wait_until(lambda: (r := store.get(execution_id, 0)) is not None and r.status.is_terminal and r)
    assert record.status.value == "COMPLETED"
    assert record.output is not None
    assert record.output["queue"] == "priority"


def test_an_end_that_overtakes_its_running_event_is_kept(
    cloud: LocalCloud, api: Api, monkeypatch: pytest.MonkeyPatch
):
    """Out of order from the start: SUCCEEDED reaches a record still QUEUED, RUNNING comes after it."""
    from flowport import services

    monkeypatch.setattr(services.workflow_engine(), "start", lambda *_: None)
    execution_id = api.start(body={**TICKET, "delaySeconds": 60}).json()["executionId"]
    cloud.close()
    assert sync(cloud.stack, status_change(cloud, execution_id, "SUCCEEDED")) is True
    assert sync(cloud.stack, status_change(cloud, execution_id, "RUNNING")) is False
    document = stored(api, execution_id)
    assert document["status"] == "COMPLETED"
    assert document["output"]["queue"] == "priority"


def test_duplicate_and_conflicting_deliveries_at_once_apply_exactly_one(
    cloud: LocalCloud, api: Api, running_execution: str
):
    from concurrent.futures import ThreadPoolExecutor

    succeeded = status_change(cloud, running_execution, "SUCCEEDED")
    failed = status_change(cloud, running_execution, "FAILED", error="Boom", cause="late")
    deliveries = [succeeded] * 15 + [failed] * 15
    with ThreadPoolExecutor(max_workers=len(deliveries)) as pool:
        applied = list(pool.map(lambda event: sync(cloud.stack, event), deliveries))
    assert applied.count(True) == 1
    winner = deliveries[applied.index(True)]["detail"]["status"]
    assert stored(api, running_execution)["status"] == {"SUCCEEDED": "COMPLETED", "FAILED": "FAILED"}[winner]
