"""The local counterpart of the template's schedules: rate expressions, and a function invoked on its
rate until the scheduler closes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flowport.local import functions
from flowport.local.scheduler import LocalScheduler
from flowport.local.template import ScheduleSpec, Stack, TemplateError, build_stack, rate_seconds

from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(2 hours)", 7200), ("rate(1 day)", 86400)],
)
def test_rate_expressions_are_read_as_intervals(expression: str, seconds: int):
    assert rate_seconds(expression) == seconds


@pytest.mark.parametrize("expression", ["cron(0 12 * * ? *)", "at(2030-01-01T00:00:00)", "rate(1 second)"])
def test_other_schedules_are_refused_by_name(expression: str):
    with pytest.raises(TemplateError, match="rate"):
        rate_seconds(expression)


def test_the_template_schedules_the_reconciler_every_minute():
    stack = build_stack(ROOT / "template.yaml")
    scheduled = {name: spec.schedules for name, spec in stack.functions.items() if spec.schedules}
    assert scheduled == {"ReconcileFunction": (ScheduleSpec("ReconcileFunction.EveryMinute", 60),)}


@pytest.fixture
def invocations() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def record(spec: functions.Function, event: Any) -> None:
        with lock:
            seen.append((spec.logical_id, event))

    functions.run_in(record)
    yield seen
    functions.run_in(None)


def test_a_scheduled_function_is_invoked_on_its_rate_until_closed(invocations: list[tuple[str, Any]]):
    stack = build_stack(ROOT / "template.yaml")
    reconcile = stack.functions["ReconcileFunction"]
    quick = replace(reconcile, schedules=(ScheduleSpec("ReconcileFunction.EveryMinute", 1),))
    scheduler = LocalScheduler(Stack(root=stack.root, functions={"ReconcileFunction": quick}))
    try:
        wait_until(lambda: len(invocations) >= 2, timeout=10)
    finally:
        scheduler.close()
    count = len(invocations)
    name, event = invocations[0]
    assert name == "ReconcileFunction"
    assert (event["source"], event["detail-type"]) == ("aws.scheduler", "Scheduled Event")
    assert event["resources"][0].endswith("/ReconcileFunction.EveryMinute")
    assert len(invocations) == count  # none after the close
