"""`flowport dev` as a separate process, as `make dev` runs it: started, waited for, stopped."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO

import requests

from tests.support import wait_until

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_dev(port: int, state_dir: Path, log: IO[str] | None = None) -> subprocess.Popen[str]:
    """`flowport dev` as a background shell or CI starts it: with SIGINT ignored, which it inherits. Its
    output goes to `log` if given (a pipe read only at the end holds 64 KiB of it, then blocks the server)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowport.local.cli",
            "dev",
            "--port",
            str(port),
            "--state-dir",
            str(state_dir),
        ],
        cwd=ROOT,
        stdout=log or subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ignore_sigint,
    )


def stop(process: subprocess.Popen[str]) -> str:
    """Ctrl-C; the process must end cleanly on it. Whatever happens, nothing is left running."""
    try:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
        output = output or ""
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    return output


def dev_key(state_dir: Path) -> str:
    """The development admin's key `flowport dev --state-dir` wrote."""
    return (state_dir / "dev-admin-key").read_text(encoding="utf-8").strip()


def wait_for_server(url: str) -> None:
    def answers() -> bool:
        try:
            return requests.get(f"{url}/openapi.json", timeout=10).status_code == 200
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy starting
            return False

    wait_until(answers, timeout=60, interval=0.2)


def kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL: the process gets no chance to save anything."""
    process.kill()
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
