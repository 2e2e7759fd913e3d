"""The local counterpart of template.yaml's schedules (SAM `ScheduleV2` and `Schedule` events): each
scheduled function is invoked asynchronously every interval its `rate(...)` expression gives, first one
interval after the start, with an event shaped as EventBridge Scheduler sends it."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

from flowport.local.functions import invoke
from flowport.local.template import LOCAL_ACCOUNT, LOCAL_REGION, FunctionSpec, ScheduleSpec, Stack
from flowport.local.workers import Workers


def scheduled_event(schedule: ScheduleSpec) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.scheduler",
        "account": LOCAL_ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": LOCAL_REGION,
        "resources": [f"arn:aws:scheduler:{LOCAL_REGION}:{LOCAL_ACCOUNT}:schedule/default/{schedule.name}"],
        "detail": {},
    }


class LocalScheduler:
    def __init__(self, stack: Stack) -> None:
        self._workers = Workers(
            (f"flowport-schedule-{schedule.name}", partial(self._run, spec, schedule))
            for spec in stack.functions.values()
            for schedule in spec.schedules
        )

    def close(self, timeout: float = 10.0) -> None:
        """Stop: a run under way finishes first (before the embedded moto goes away)."""
        self._workers.close(timeout)

    @staticmethod
    def _run(spec: FunctionSpec, schedule: ScheduleSpec, stopped: threading.Event) -> None:
        while not stopped.wait(schedule.every_seconds):
            try:
                invoke(spec, scheduled_event(schedule))
            except Exception as error:  # the next run comes all the same, as on AWS
                report = {"level": "ERROR", "message": "scheduled run failed", "schedule": schedule.name}
                print(json.dumps({**report, "error": f"{type(error).__name__}: {error}"}), file=sys.stderr)
