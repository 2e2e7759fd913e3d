"""Concurrency limits over HTTP, as README's "Concurrency limits and priority" shows them: partner-sync runs
two at once; five started, two run and three wait with their positions; they drain highest priority first;
a cancelled waiting one never runs; GET /workflows/partner-sync counts them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from flowport.local.cloud import LocalCloud
from flowport.local.server import serving

from tests.support import KeyedServer, keyed, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(cloud: LocalCloud) -> Iterator[KeyedServer]:
    with serving(cloud.stack, log=io.StringIO()) as running:
        yield keyed(running)


def push(server: KeyedServer, batch: str, priority: int, seconds: int) -> dict[str, Any]:
    response = server.http.post(
        f"{server.url}/workflows/partner-sync/executions?priority={priority}",
        json={"batchId": batch, "seconds": seconds},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    document: dict[str, Any] = response.json()
    return document


def status(server: KeyedServer, execution_id: str) -> dict[str, Any]:
    response = server.http.get(f"{server.url}/executions/{execution_id}", timeout=30)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def load(server: KeyedServer) -> dict[str, Any]:
    document: dict[str, Any] = server.http.get(f"{server.url}/workflows/partner-sync", timeout=30).json()
    return document


def test_five_starts_run_two_at_a_time_highest_priority_first(server: KeyedServer, cloud: LocalCloud):
    # Long enough to hold both slots until the queue's order has been read, on a slow machine too.
    first = push(server, "first", priority=0, seconds=8)
    second = push(server, "second", priority=0, seconds=8)
    low = push(server, "low", priority=10, seconds=0)
    high = push(server, "high", priority=90, seconds=0)
    skipped = push(server, "skipped", priority=50, seconds=0)
    assert [d["status"] for d in (first, second, low, high, skipped)] == ["RUNNING"] * 2 + ["QUEUED"] * 3
    positions = {name: status(server, d["executionId"]) for name, d in [("low", low), ("high", high)]}
    assert positions["high"]["queuePosition"] == 1
    assert positions["low"]["queuePosition"] == 3
    assert "queuedAt" in positions["low"]
    assert status(server, skipped["executionId"])["queuePosition"] == 2
    assert (load(server)["maxConcurrency"], load(server)["running"], load(server)["queued"]) == (2, 2, 3)

    cancelled = server.http.delete(f"{server.url}/executions/{skipped['executionId']}", timeout=30).json()
    assert (cancelled["cancelled"], cancelled["previousStatus"]) == (True, "QUEUED")
    assert status(server, low["executionId"])["queuePosition"] == 2

    ids = [d["executionId"] for d in (first, second, low, high)]
    wait_until(lambda: all(status(server, i)["status"] == "COMPLETED" for i in ids), timeout=60, interval=0.2)
    machine = cloud.stack.state_machines["PartnerSyncV1StateMachine"].arn
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    started_in_order = [e["name"] for e in sorted(executions, key=lambda e: e["startDate"])]
    assert started_in_order[2:] == [high["executionId"], low["executionId"]]
    assert skipped["executionId"] not in started_in_order  # it never ran
    assert status(server, skipped["executionId"])["status"] == "CANCELLED"
    # A status read says COMPLETED from Step Functions a moment before the sync function frees the slot.
    wait_until(lambda: (load(server)["running"], load(server)["queued"]) == (0, 0), timeout=30)
