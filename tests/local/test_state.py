"""flowport.local.state in-process: what its files hold, how they are written, what a load makes of them
(the routes after a real restart: tests/local/test_restarts.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowport import services
from flowport.local import state
from flowport.local.cloud import LocalCloud, running
from flowport.local.files import write_atomically
from flowport.local.template import Stack

from tests.support import TICKET, Api


def test_a_write_that_dies_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = tmp_path / "state.json"
    write_atomically(path, b'{"old": true}')

    def killed(_descriptor: int) -> None:
        raise KeyboardInterrupt  # as a Ctrl-C arriving mid-write would

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, b'{"new": true, "and": "longer"}')
    assert path.read_bytes() == b'{"old": true}'
    assert [entry.name for entry in tmp_path.iterdir()] == ["state.json"]  # no temporary file left


def _saved_record(state_dir: Path, execution_id: str) -> tuple[Path, list[dict[str, Any]], dict[str, Any]]:
    for path in state_dir.glob("dynamodb-*.json"):
        items = json.loads(path.read_text())
        for item in items:
            if item["pk"]["S"] == f"EXEC#{execution_id}" and item["sk"]["S"] == "EXEC":
                return path, items, item
    raise AssertionError(f"no saved record of {execution_id}")


def test_a_save_rewrites_only_what_changed(tmp_path: Path, cloud: LocalCloud, api: Api):
    started = api.start(body=TICKET).json()["executionId"]
    api.wait_for_status(started, "COMPLETED")
    saver = state.Saver(tmp_path, cloud.stack, state.Restored(items=0, executions=set(), ended=0))
    saver.save()
    table, _, _ = _saved_record(tmp_path, started)
    (execution,) = tmp_path.glob(f"executions/*/{started}.json")
    written = {path: path.stat().st_ino for path in (table, execution)}
    saver.save()
    assert {path: path.stat().st_ino for path in written} == written  # a rewrite would be a new file


@pytest.fixture
def two_runs() -> Iterator[None]:
    """For a test that runs the stack twice itself; the services left behind point at the last run."""
    yield
    services.reset()


@pytest.mark.usefixtures("two_runs")
def test_a_record_whose_state_machine_is_gone_ends_failed_by_the_restart(tmp_path: Path, stack: Stack):
    """The template changed between the runs: the execution cannot be put back, its record still ends."""
    with running(stack), state.kept(tmp_path, stack):
        started = Api(stack).start(body={**TICKET, "delaySeconds": 600}).json()["executionId"]
        Api(stack).wait_for_status(started, "RUNNING")
    for execution in tmp_path.glob(f"executions/*/{started}.json"):
        execution.unlink()
    path, items, record = _saved_record(tmp_path, started)
    arn = record["stateMachineArn"]["S"]
    record["stateMachineArn"]["S"] = arn[: arn.rindex(":") + 1] + "a-removed-workflow-v1"
    path.write_text(json.dumps(items))

    with running(stack), state.kept(tmp_path, stack) as restored:
        document = Api(stack).get(started).json()
        cancel = Api(stack).cancel(started)
    assert restored.ended == 1
    assert document["status"] == "FAILED"
    assert document["error"]["code"] == "local_restart"
    assert cancel.status == 409
