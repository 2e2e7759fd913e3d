"""The local EventBridge: delivers off the caller's thread and says when it has delivered everything."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flowport.local import eventbridge
from flowport.local.template import FunctionSpec, build_stack

from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_the_bus_is_idle_only_once_every_published_event_was_delivered(monkeypatch: pytest.MonkeyPatch):
    stack = build_stack(ROOT / "template.yaml")
    state_machine = stack.state_machines["TicketTriageV1StateMachine"]
    release = threading.Event()
    delivered: list[str] = []

    def deliver_when_released(spec: FunctionSpec, event: dict[str, Any]) -> None:
        release.wait(10)
        delivered.append(spec.logical_id)

    monkeypatch.setattr(eventbridge, "invoke", deliver_when_released)
    bus = eventbridge.LocalEventBus(stack)
    event = {
        "source": "aws.states",
        "detail-type": eventbridge.STATUS_CHANGE,
        "detail": {"stateMachineArn": state_machine.arn, "status": "RUNNING"},
    }
    try:
        assert bus.idle()
        bus.publish(event)
        assert not bus.idle()

        release.set()

        wait_until(bus.idle, timeout=5)
        assert delivered == ["SyncFunction"]
    finally:
        release.set()
        bus.close()
    assert bus.idle()  # closing is not an event


def test_a_start_is_announced_running_even_if_the_execution_ended_first(monkeypatch: pytest.MonkeyPatch):
    """moto's worker may finish a short execution before the start's event is built (seen in CI)."""
    monkeypatch.setattr(eventbridge, "redrive_fields", lambda _: {})  # a first attempt's

    class Ended:
        account_id, region_name = "123456789012", "us-east-1"
        exec_arn = "arn:aws:states:us-east-1:123456789012:execution:flowport-local-ticket-triage-v1:e1"
        state_machine_arn = (
            "arn:aws:states:us-east-1:123456789012:stateMachine:flowport-local-ticket-triage-v1"
        )
        name, exec_status, execution_input = "e1", "SUCCEEDED", "{}"
        start_date = stop_date = datetime(2030, 1, 1, tzinfo=UTC)
        output, error, cause = '{"done": true}', None, None

    detail = eventbridge.started_event(Ended())["detail"]  # type: ignore[arg-type]
    assert (detail["status"], detail["stopDate"], detail["output"]) == ("RUNNING", None, None)
    assert detail["startDate"] == int(Ended.start_date.timestamp() * 1000)
    assert eventbridge.status_change_event(Ended())["detail"]["status"] == "SUCCEEDED"  # type: ignore[arg-type]
