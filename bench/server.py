"""Figure 4: the local server (`flowport dev`) over loopback: requests per second and p99 latency for
start and status, at concurrency 1 and 32, a fixed number of requests per cell."""

from __future__ import annotations

import http.client
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flowport.local.server import serving
from flowport.local.template import Stack

from bench.stats import ms, percentile
from tests.support import TICKET

BODY = json.dumps(TICKET)
# Kept, not thrown away: a failed request's cause is in it.
SERVER_LOG = Path(tempfile.gettempdir()) / "flowport-bench-server.log"


def _request(host: str, port: int, method: str, path: str, body: str | None) -> float:
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status} (the server's log: {SERVER_LOG})")
    finally:
        connection.close()
    return time.perf_counter() - started


def _cell(
    host: str, port: int, method: str, path: str, body: str | None, concurrency: int, count: int
) -> dict[str, float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        latencies = list(pool.map(lambda _: _request(host, port, method, path, body), range(count)))
    elapsed = time.perf_counter() - started
    return {"rps": round(count / elapsed, 1), "p99_ms": ms(percentile(latencies, 0.99)), "requests": count}


def measure(stack: Stack, requests: int = 200) -> dict[str, Any]:
    with SERVER_LOG.open("w") as log, serving(stack, port=0, log=log) as server:
        address = urlsplit(server.url)
        host, port = address.hostname or "127.0.0.1", address.port or 80
        start_path = "/workflows/ticket-triage/executions"
        connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.request("POST", start_path, body=BODY, headers={"Content-Type": "application/json"})
        execution_id = json.loads(connection.getresponse().read())["executionId"]
        connection.close()
        status_path = f"/executions/{execution_id}"
        _cell(host, port, "GET", status_path, None, 4, 20)  # warm-up: handlers imported, clients made
        figures: dict[str, Any] = {"start": {}, "status": {}}
        for concurrency in (1, 32):
            figures["start"][f"c{concurrency}"] = _cell(
                host, port, "POST", start_path, BODY, concurrency, requests
            )
            figures["status"][f"c{concurrency}"] = _cell(
                host, port, "GET", status_path, None, concurrency, requests
            )
    figures["_method"] = (
        f"{requests} requests per cell, a new loopback connection per request, the local server in this "
        "process over the embedded moto (started workflows run in the same process meanwhile)"
    )
    return figures
