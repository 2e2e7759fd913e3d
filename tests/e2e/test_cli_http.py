"""The `flowport` command's API commands against the local server: in-process with --json and tables,
and `start --wait` in a pseudo-terminal, where its live progress bar is drawn."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowport.local.cli import main
from flowport.local.cloud import LocalCloud
from flowport.local.server import LocalServer, serving

from tests.support import admin_key

pytestmark = pytest.mark.e2e
FLOWPORT = Path(sys.executable).parent / "flowport"


@pytest.fixture
def server(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalServer]:
    with serving(cloud.stack, log=io.StringIO()) as running:
        monkeypatch.setenv("FLOWPORT_API_KEY", admin_key())
        yield running


def flowport(
    capsys: pytest.CaptureFixture[str], server: LocalServer, *arguments: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--url", server.url, *arguments])
    out, err = capsys.readouterr()
    return code, out, err


def documents(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_start_status_list_and_history_as_json(capsys: pytest.CaptureFixture[str], server: LocalServer):
    code, out, _ = flowport(
        capsys,
        server,
        "start",
        "ticket-triage",
        "--set",
        "subject=x",
        "--set",
        "customerTier=pro",
        "--correlation-id",
        "cli-1",
        "--json",
    )
    assert code == 0
    (started,) = documents(out)
    execution_id = started["executionId"]
    code, out, _ = flowport(capsys, server, "watch", execution_id, "--json")
    assert code == 0
    events = documents(out)
    assert events[-1]["event"] == "completed"
    assert events[-1]["data"]["output"]["queue"] == "standard"
    code, out, _ = flowport(capsys, server, "status", execution_id, "--json")
    assert documents(out)[0]["status"] == "COMPLETED"
    code, out, _ = flowport(capsys, server, "list", "--correlation-id", "cli-1", "--json")
    assert [d["executionId"] for d in documents(out)] == [execution_id]
    code, out, _ = flowport(capsys, server, "history", execution_id, "--json")
    assert documents(out)[0]["name"] == "CheckDelay"


def test_tables_for_people_and_input_from_a_file(
    capsys: pytest.CaptureFixture[str], server: LocalServer, tmp_path: Path
):
    code, out, _ = flowport(capsys, server, "workflows")
    assert code == 0
    assert "partner-sync" in out
    assert "ticket-triage" in out
    request = tmp_path / "ticket.json"
    request.write_text(json.dumps({"subject": "from a file", "customerTier": "pro", "customerId": "7"}))
    arguments = ["start", "ticket-triage", "--input", str(request), "--set", "customerId=42", "--key", "k-1"]
    code, out, err = flowport(capsys, server, *arguments)
    assert code == 0
    execution_id = out.strip()
    assert "QUEUED" in err or "RUNNING" in err
    assert flowport(capsys, server, *arguments)[1].strip() == execution_id  # the key's execution again
    code, out, _ = flowport(capsys, server, "status", execution_id, "--json")
    assert documents(out)[0]["input"] == {"subject": "from a file", "customerTier": "pro", "customerId": 42}
    code, out, _ = flowport(capsys, server, "list", "--workflow", "ticket-triage", "--input", "customerId=42")
    assert execution_id in out
    code, _, err = flowport(capsys, server, "start", "ticket-triage", "--set", "subject")
    assert (code, "expected KEY=VALUE" in err) == (1, True)


def test_exit_codes_say_how_it_ended(capsys: pytest.CaptureFixture[str], server: LocalServer):
    spam = ["--set", "subject=Buy cheap spam now", "--set", "customerTier=pro"]
    code, _, _ = flowport(capsys, server, "start", "ticket-triage", *spam, "--wait", "--json")
    assert code == 3  # FAILED
    slow = ["--set", "subject=x", "--set", "customerTier=pro", "--set", "delaySeconds=30"]
    code, out, _ = flowport(capsys, server, "start", "ticket-triage", *slow)
    execution_id = out.strip()
    code, _, err = flowport(capsys, server, "watch", execution_id, "--timeout", "1", "--json")
    assert code == 6
    assert "had not ended in time" in err
    assert flowport(capsys, server, "cancel", execution_id)[0] == 0
    assert flowport(capsys, server, "watch", execution_id, "--json")[0] == 5  # CANCELLED
    code, _, err = flowport(capsys, server, "status", "2f1c6a8e-3b7d-4c59-9e0a-6d2b8f4a1c37")
    assert (code, "404 execution_not_found" in err) == (1, True)


def test_start_wait_draws_live_progress_in_a_terminal(server: LocalServer):
    """What the issue's `flowport start ticket-triage --set subject=x --set customerTier=pro --wait` shows."""
    arguments = [
        "--url",
        server.url,
        "start",
        "ticket-triage",
        "--set",
        "subject=x",
        "--set",
        "customerTier=pro",
    ]
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "100", "TERM": "xterm-256color"}
    child = subprocess.Popen(
        [str(FLOWPORT), *arguments, "--wait"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        close_fds=True,
    )
    os.close(follower)
    screen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        elif child.poll() is not None:
            break
    os.close(leader)
    assert child.wait(timeout=30) == 0
    text = screen.decode(errors="replace")
    assert "━" in text  # the bar
    assert "\x1b[" in text  # redrawn in place: a terminal's escape sequences, not plain lines
    assert re.search(r"\b100%", text)
    assert re.search(r"\b\d+/\d+ nodes", text)  # completed/total nodes
    assert "COMPLETED" in text
    assert '"queue": "standard"' in text  # the output
