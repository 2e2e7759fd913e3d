"""`flowport dev --state-dir` restarted, after Ctrl-C or SIGKILL: every route says what the restart did.

Executions finished before the stop keep their outcome and history. Those running, or whose start had not
reached Step Functions, ended FAILED with `local_restart` when the server stopped, and every route agrees.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.local.dev_process import dev_key, free_port, kill, start_dev, stop, wait_for_server
from tests.support import TICKET, KeyedServer, wait_until

pytestmark = pytest.mark.e2e

WAITING = {**TICKET, "delaySeconds": 600}
EXECUTIONS = "/workflows/ticket-triage/executions"


def _get(dev: KeyedServer, path: str, **params: Any) -> Any:
    response = dev.http.get(f"{dev.url}{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def _start(
    dev: KeyedServer, body: dict[str, Any], key: str | None = None, on_conflict: str = ""
) -> requests.Response:
    headers = {"Idempotency-Key": key, "X-On-Conflict": on_conflict} if key else {}
    return dev.http.post(f"{dev.url}{EXECUTIONS}", json=body, headers=headers, timeout=10)


def _stream(dev: KeyedServer, execution_id: str) -> list[tuple[str, Any]]:
    """Every event of the execution's stream, read until the server ends it."""
    events: list[tuple[str, Any]] = []
    with dev.http.get(f"{dev.url}/executions/{execution_id}/events", stream=True, timeout=30) as response:
        assert response.status_code == 200, response.text
        kind = None
        for line in response.iter_lines(decode_unicode=True):
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((str(kind), json.loads(line.removeprefix("data: "))))
    return events


def _saved_items(state_dir: Path) -> Iterator[dict[str, Any]]:
    for path in state_dir.glob("dynamodb-*.json"):
        yield from json.loads(path.read_text(encoding="utf-8"))


def _saved_status(state_dir: Path, execution_id: str) -> str | None:
    for item in _saved_items(state_dir):
        if item["pk"]["S"] == f"EXEC#{execution_id}" and item["sk"]["S"] == "EXEC":
            return str(item["status"]["S"])
    return None


def _saved_history(state_dir: Path, execution_id: str) -> list[str]:
    path = next(state_dir.glob(f"executions/*/{execution_id}.json"), None)
    return [event["type"] for event in json.loads(path.read_text())["events"]] if path else []


def _add_queued_record(state_dir: Path, like: str) -> str:
    """A record whose start never reached Step Functions, as a kill between its write and its start
    leaves it: the only way to have one for certain (locally a start follows its record at once)."""
    queued = str(uuid.uuid4())
    for path in state_dir.glob("dynamodb-*.json"):
        items = json.loads(path.read_text(encoding="utf-8"))
        record = next(
            (item for item in items if item["pk"]["S"] == f"EXEC#{like}" and item["sk"]["S"] == "EXEC"), None
        )
        if record is None:
            continue
        copy = json.loads(json.dumps(record).replace(like, queued))
        copy["status"] = {"S": "QUEUED"}
        for attribute in ("startedAt", "idempotencyKeyHash", "progress"):
            copy.pop(attribute, None)
        path.write_text(json.dumps([*items, copy]), encoding="utf-8")
        return queued
    raise AssertionError(f"no saved record of {like}")


@pytest.mark.parametrize("stopped_by", ["ctrl-c", "sigkill"])
def test_a_restart_ends_running_executions_and_keeps_finished_ones(tmp_path: Path, stopped_by: str):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "server.log").open("w")
    state_dir = tmp_path / "state"
    process = start_dev(port, state_dir, log)
    try:
        wait_for_server(url)
        dev = KeyedServer(url, dev_key(state_dir))
        finished = _start(dev, TICKET).json()["executionId"]
        running = _start(dev, WAITING, key="restart-1", on_conflict="FAIL_ON_RUNNING").json()["executionId"]
        replayed = _start(dev, WAITING, key="restart-2", on_conflict="RETURN_EXISTING").json()["executionId"]
        wait_until(lambda: _get(dev, f"/executions/{finished}")["status"] == "COMPLETED", interval=0.2)
        for execution_id in (running, replayed):
            wait_until(
                lambda e=execution_id: _get(dev, f"/executions/{e}").get("currentNode") == "WaitForAgentPool",
                interval=0.2,
            )
        finished_history = _get(dev, f"/executions/{finished}/history")
        if stopped_by == "sigkill":
            # What the periodic save has written is all a kill leaves: wait for it to hold every execution.
            wait_until(
                lambda: (
                    _saved_status(state_dir, finished) == "COMPLETED"
                    and all("WaitStateEntered" in _saved_history(state_dir, e) for e in (running, replayed))
                ),
                interval=0.2,
            )
            kill(process)
        else:
            stop(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    queued = _add_queued_record(state_dir, like=replayed)

    process = start_dev(port, state_dir, log)
    try:
        wait_for_server(url)
        assert dev_key(state_dir) == dev.key  # kept with the table it authenticates against
        _assert_finished_as_before(dev, finished, finished_history)
        for execution_id in (running, replayed, queued):
            _assert_ended_by_the_restart(dev, execution_id, ran=execution_id != queued)
        _assert_keys_treat_them_as_finished(dev, running, replayed)
    finally:
        stop(process)
        log.close()
    assert (
        "3 executions that ran when the server last stopped ended FAILED (local_restart)"
        in (tmp_path / "server.log").read_text()
    )


def _assert_finished_as_before(dev: KeyedServer, execution_id: str, history: dict[str, Any]) -> None:
    status = _get(dev, f"/executions/{execution_id}")
    assert status["status"] == "COMPLETED"
    assert status["output"]["queue"] == "priority"
    assert _get(dev, f"/executions/{execution_id}/history") == history
    assert _stream(dev, execution_id)[-1][0] == "completed"
    cancel = dev.http.delete(f"{dev.url}/executions/{execution_id}", timeout=10)
    assert cancel.status_code == 409, cancel.text
    assert cancel.json()["executionStatus"] == "COMPLETED"


def _assert_ended_by_the_restart(dev: KeyedServer, execution_id: str, ran: bool) -> None:
    status = _get(dev, f"/executions/{execution_id}")
    assert status["status"] == "FAILED", status
    assert status["error"]["code"] == "local_restart"
    assert "does not resume executions" in status["error"]["message"]
    assert status["startedAt"] <= status["completedAt"]
    assert "currentNode" not in status
    nodes = _get(dev, f"/executions/{execution_id}/history")["items"]
    if ran:  # the history up to the stop, its open state failed with the execution
        assert nodes[-1]["name"] == "WaitForAgentPool"
        assert nodes[-1]["status"] == "FAILED"
        assert status["error"]["node"] == "WaitForAgentPool"
    else:
        assert nodes == []
    events = _stream(dev, execution_id)
    assert events[-1][0] == "failed", events
    assert events[-1][1]["error"]["code"] == "local_restart"
    found = _get(dev, "/executions", workflow="ticket-triage", status="FAILED")["items"]
    assert execution_id in [item["executionId"] for item in found]
    assert execution_id not in [
        item["executionId"]
        for item in _get(dev, "/executions", workflow="ticket-triage", status="RUNNING")["items"]
    ]
    cancel = dev.http.delete(f"{dev.url}/executions/{execution_id}", timeout=10)
    assert cancel.status_code == 409, cancel.text
    assert cancel.headers["Content-Type"].startswith("application/problem+json")
    assert cancel.json()["executionStatus"] == "FAILED"


def _assert_keys_treat_them_as_finished(dev: KeyedServer, running: str, replayed: str) -> None:
    again = _start(dev, WAITING, key="restart-1", on_conflict="FAIL_ON_RUNNING")
    assert again.status_code == 202, again.text
    assert again.json()["executionId"] != running  # a new execution: the old one's name is taken for good
    assert _get(dev, f"/executions/{again.json()['executionId']}")["status"] in ("QUEUED", "RUNNING")
    assert _get(dev, f"/executions/{running}")["status"] == "FAILED"
    existing = _start(dev, WAITING, key="restart-2", on_conflict="RETURN_EXISTING")
    assert existing.status_code == 200, existing.text
    assert existing.json()["executionId"] == replayed
    assert existing.json()["status"] == "FAILED"
