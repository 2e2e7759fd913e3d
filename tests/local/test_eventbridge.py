"""The local EventBridge: delivers off the caller's thread and says when it has delivered everything."""

from __future__ import annotations

import threading
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
