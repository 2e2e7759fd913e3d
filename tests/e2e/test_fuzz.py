"""schemathesis, driven by the local server's own OpenAPI document, against that server over HTTP.

Zero 5xx, and every answer as documented: its status code, content type, headers and body schema. The run
in `make test` is bounded: a fixed seed, 8 examples per operation, the examples and fuzzing phases (about
10 s). `make fuzz` adds the coverage phase (boundary values and unexpected methods on every parameter,
about 25 s on its own) and stateful sequences, with 100 examples and a random seed it prints
(FLOWPORT_FUZZ_EXAMPLES, FLOWPORT_FUZZ_PHASES, FLOWPORT_FUZZ_MAX_SECONDS, FLOWPORT_FUZZ_SEED). What the
coverage phase found is pinned by tests/e2e/test_bad_input_http.py and tests/api/test_openapi.py.
schemathesis runs as its CLI, in a process of its own, against the server this test starts in-process
over the embedded moto.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowport.local.cloud import LocalCloud
from flowport.local.server import serving

from tests.support import QUICK_STREAMS, KeyedServer, keyed

pytestmark = pytest.mark.e2e

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
EXAMPLES = os.environ.get("FLOWPORT_FUZZ_EXAMPLES", "8")
PHASES = os.environ.get("FLOWPORT_FUZZ_PHASES", "examples,fuzzing")
MAX_SECONDS = os.environ.get("FLOWPORT_FUZZ_MAX_SECONDS")
SEED = os.environ.get("FLOWPORT_FUZZ_SEED", "20261123")


@pytest.fixture
def fuzzed_server(cloud: LocalCloud) -> Iterator[KeyedServer]:
    """The local server, with event-stream responses that wait a moment for news instead of 25 s."""
    with serving(cloud.stack, log=io.StringIO(), environment=QUICK_STREAMS) as server:
        yield keyed(server)


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    fuzzed_server: KeyedServer, tmp_path: Path
):
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{fuzzed_server.url}/openapi.json",
        f"--checks={','.join(CHECKS)}",
        f"--phases={PHASES}",
        f"--max-examples={EXAMPLES}",
        f"--seed={SEED}",
        "--workers=1",
        f"--header=X-API-Key: {fuzzed_server.key}",  # an admin's: every route is in scope
        "--request-timeout=30",
        # A generated `Accept`, `Idempotency-Key` or query value may be kilobytes long: shown whole, one
        # failure fills the screen.
        "--output-truncate=true",
    ]
    if MAX_SECONDS:
        command.append(f"--max-time={MAX_SECONDS}")
    # Its working directory is a temporary one: schemathesis leaves a cache and reports there.
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-30_000:] + result.stderr[-5_000:]
