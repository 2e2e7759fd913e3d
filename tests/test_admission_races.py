"""Admission against moto's real executions: racing starts never run more than the limit at once (as Step
Functions itself reports), each runs exactly once, every slot comes back; an end event delivered twice or
late frees one slot once; the reconciler heals a dispatch that never reached Step Functions.

The racers call the start use case on threads of one process, as tests/test_concurrency.py explains.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from flowport import services
from flowport.core.models import ExecutionSource, ExecutionStatus
from flowport.local.cloud import LocalCloud
from flowport.local.functions import invoke
from flowport.usecases.start import StartCommand

from tests.support import ADMIN, load_event, wait_until

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 3
STARTS = 200


@pytest.fixture
def limited(cloud: LocalCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCloud]:
    """The stack with partner-sync limited to three at once (its folder copied with that one change)."""
    folders = tmp_path / "statemachines"
    shutil.copytree(ROOT / "statemachines", folders)
    settings_file = folders / "partner-sync" / "workflow.json"
    settings = json.loads(settings_file.read_text())
    settings_file.write_text(json.dumps({**settings, "maxConcurrency": LIMIT}))
    monkeypatch.setenv("FLOWPORT_WORKFLOWS_PATH", str(folders))
    services.reset()
    yield cloud
    services.reset()


def push(batch: int, seconds: int = 0) -> tuple[str, ExecutionStatus]:
    started = services.start_execution().start(
        StartCommand(
            workflow="partner-sync",
            version=None,
            input={"batchId": f"batch-{batch}", "seconds": seconds},
            source=ExecutionSource.HTTP_POST,
            caller=ADMIN,
            priority=batch % 100,
            correlation_id=f"race-{batch}",
        )
    )
    return started.execution.execution_id, started.execution.status


def machine_arn(cloud: LocalCloud) -> str:
    return cloud.stack.state_machines["PartnerSyncV1StateMachine"].arn


class RunningSampler:
    """Counts, as often as it can, the executions Step Functions lists as RUNNING."""

    def __init__(self, state_machine_arn: str) -> None:
        self._client = boto3.client("stepfunctions")
        self._arn = state_machine_arn
        self._stop = threading.Event()
        self.samples: list[int] = []
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> RunningSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _sample(self) -> None:
        while not self._stop.is_set():
            listed = self._client.list_executions(stateMachineArn=self._arn, statusFilter="RUNNING")
            self.samples.append(len(listed["executions"]))  # fewer than a page's hundred, or it failed
            self._stop.wait(0.005)


def most_at_once(executions: list[dict[str, Any]]) -> int:
    """The most executions whose [start, stop] intervals overlap, from Step Functions' own times."""
    moments: list[tuple[datetime, int]] = []
    for execution in executions:
        moments += [(execution["startDate"], 1), (execution["stopDate"], -1)]
    running = most = 0
    for _, change in sorted(moments, key=lambda moment: (moment[0], moment[1])):  # ends before starts
        running += change
        most = max(most, running)
    return most


def all_finished(execution_ids: list[str]) -> bool:
    store = services.execution_store()
    now = datetime.now().timestamp()
    return all(
        (record := store.get(execution_id, now)) is not None and record.status.is_terminal
        for execution_id in execution_ids
    )


def test_two_hundred_racing_starts_never_run_more_than_the_limit(limited: LocalCloud):
    with RunningSampler(machine_arn(limited)) as sampler:
        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(push, range(STARTS)))
        ids = [execution_id for execution_id, _ in answers]
        wait_until(lambda: all_finished(ids), timeout=240, interval=0.5)
    assert len(set(ids)) == STARTS
    assert sum(status is ExecutionStatus.QUEUED for _, status in answers) >= STARTS - 50  # most had to wait
    assert sampler.samples
    assert max(sampler.samples) <= LIMIT
    pages = boto3.client("stepfunctions").get_paginator("list_executions")
    listed = [e for page in pages.paginate(stateMachineArn=machine_arn(limited)) for e in page["executions"]]
    assert sorted(execution["name"] for execution in listed) == sorted(ids)  # each ran exactly once
    assert {execution["status"] for execution in listed} == {"SUCCEEDED"}
    assert most_at_once(listed) <= LIMIT
    assert services.slot_store().read("partner-sync").running == 0
    assert services.queue_index().length("partner-sync") == 0


def status_change(cloud: LocalCloud, execution_id: str) -> dict[str, Any]:
    """The status-change event of a finished execution, as EventBridge delivers it."""
    description = boto3.client("stepfunctions").describe_execution(
        executionArn=f"{machine_arn(cloud).replace(':stateMachine:', ':execution:')}:{execution_id}"
    )
    event = load_event("execution-status-change")
    event["detail"].update(
        {
            "executionArn": description["executionArn"],
            "stateMachineArn": description["stateMachineArn"],
            "name": execution_id,
            "status": description["status"],
            "startDate": int(description["startDate"].timestamp() * 1000),
            "stopDate": int(description["stopDate"].timestamp() * 1000),
            "output": description.get("output"),
        }
    )
    return event


def test_an_end_delivered_again_later_frees_no_second_slot(limited: LocalCloud):
    quick, _ = push(1, seconds=0)
    long_ones = [push(batch, seconds=60)[0] for batch in (2, 3, 4, 5)]  # two run, three wait in all
    wait_until(lambda: all_finished([quick]))
    # Its record says COMPLETED a moment before its end hands its slot on: wait for the handover.
    wait_until(lambda: services.queue_index().length("partner-sync") == 1)
    assert services.slot_store().read("partner-sync").running == LIMIT
    for _ in range(2):  # EventBridge delivers at least once: the same end again, and late
        invoke(limited.stack.functions["SyncFunction"], status_change(limited, quick))
    assert services.slot_store().read("partner-sync").running == LIMIT
    assert services.queue_index().length("partner-sync") == 1
    for execution_id in long_ones:
        services.cancel_execution().cancel(execution_id, ADMIN)


def test_a_dispatch_that_never_reached_step_functions_is_started_by_the_reconciler(
    limited: LocalCloud, monkeypatch: pytest.MonkeyPatch
):
    blockers = [push(batch, seconds=60)[0] for batch in range(LIMIT)]
    waiting, status = push(9, seconds=0)
    assert status is ExecutionStatus.QUEUED
    engine = services.workflow_engine()
    real_start = engine.start

    def throttled(*_: object) -> None:
        raise RuntimeError("ThrottlingException")

    monkeypatch.setattr(engine, "start", throttled)
    services.cancel_execution().cancel(blockers[0], ADMIN)  # its end hands its slot to the waiting one
    record = wait_until(lambda: services.execution_store().get(waiting, datetime.now().timestamp()))
    wait_until(lambda: (r := services.execution_store().get(waiting, 0)) and r.dispatched_at)
    monkeypatch.setattr(engine, "start", real_start)
    assert record.status is ExecutionStatus.QUEUED
    monkeypatch.setenv("FLOWPORT_SLOT_GRACE_SECONDS", "0.001")
    services.reset()
    invoke(limited.stack.functions["ReconcileFunction"], load_event("reconcile-schedule"))
    wait_until(lambda: all_finished([waiting]))
    assert services.execution_store().get(waiting, 0).status is ExecutionStatus.COMPLETED  # type: ignore[union-attr]
    for execution_id in blockers[1:]:
        services.cancel_execution().cancel(execution_id, ADMIN)
