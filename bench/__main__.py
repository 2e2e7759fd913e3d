"""`python -m bench` (or `make bench`): print the table and write bench/results.json."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results.json")


def _quiet_stdout() -> TextIO:
    """The handlers log JSON to stdout (as in Lambda): send it to /dev/null, keep a stream for the table."""
    report = os.fdopen(os.dup(1), "w")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--rounds", type=int, default=100, help="interleaved pairs per route (handler overhead)"
    )
    parser.add_argument(
        "--samples", type=int, default=11, help="fresh interpreters per function (cold start)"
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per local-server cell")
    parser.add_argument("--output", type=Path, default=RESULTS)
    arguments = parser.parse_args(argv)
    report = _quiet_stdout()
    os.chdir(ROOT)

    from flowport.local.cloud import FAKE_CREDENTIALS, running
    from flowport.local.template import build_stack

    os.environ.update(FAKE_CREDENTIALS)
    stack = build_stack(ROOT / "template.yaml")

    from bench import calls, coldstart, cost, overhead, package, server, watchers, webhooks
    from bench.table import render

    started = time.perf_counter()
    results: dict[str, Any] = {}
    phases: dict[str, float] = {}

    def phase(name: str) -> None:
        phases[name] = round(time.perf_counter() - started, 1)
        print(f"[{phases[name]:6.1f}s] {name} ...", file=report, flush=True)

    phase("cold start")
    results["cold_start"] = coldstart.measure(stack, arguments.samples)
    phase("aws calls, handler overhead, transitions")
    with running(stack) as cloud:
        from flowport.aws import clients

        from tests.support import Api

        api = Api(cloud.stack)
        results["aws_calls"] = calls.measure(api)
        results["dispatch_latency"] = calls.dispatch_latency(api)
        results["watchers"] = watchers.measure(api)
        results["handler_overhead"] = overhead.measure(cloud, api, arguments.rounds)
        finished = calls.finished_execution(api)
        arn = _execution_arn(finished)
        history = clients.stepfunctions().get_execution_history(executionArn=arn, maxResults=1000)["events"]
        transitions = cost.transitions_of([dict(event) for event in history])
    phase("webhooks")
    with running(stack) as cloud:
        results["webhooks"] = webhooks.measure(cloud)
    phase("local server")
    with running(stack):
        results["local_server"] = server.measure(stack, arguments.requests)
    phase("sizes and cost")
    results["package_mb"] = package.measure(stack)
    overheads = results["handler_overhead"]
    inputs = cost.Inputs(
        start_ms=overheads["start"]["p50_ms"],
        status_running_ms=overheads["status_running_stale"]["p50_ms"],
        status_finished_ms=overheads["status_finished"]["p50_ms"],
        transitions=transitions,
        authorize_hit_ms=overheads["_authorize_hit"]["p50_ms"],
        authorize_miss_ms=overheads["authorize_miss"]["p50_ms"],
        # Not timed apart: a run of reads, as long as a finished status read.
        reconcile_ms=overheads["status_finished"]["p50_ms"],
    )
    results["cost_per_million_usd"] = cost.cost_per_million(inputs, cost.load_prices())
    results["_run"] = {
        "command": "make bench",
        "seconds": round(time.perf_counter() - started, 1),
        "phases_started_at_s": phases,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "workflow": "ticket-triage v1 (delaySeconds 0 unless running figures need it to wait)",
    }
    arguments.output.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results), file=report)
    print(f"written to {arguments.output}", file=report)
    return 0


def _execution_arn(execution_id: str) -> str:
    from flowport import services

    record = services.execution_store().get(execution_id, 0)
    if record is None:
        raise LookupError(execution_id)
    return str(record.execution_arn)


if __name__ == "__main__":
    sys.exit(main())
