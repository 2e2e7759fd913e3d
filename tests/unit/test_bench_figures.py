"""The parts of `make bench` (bench/) that can be checked without running it: arithmetic, cost model,
the environment a cold start is measured in, the wait for rest before a timed call, the table."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flowport.local.template import Stack, build_stack

from bench import coldstart, cost, overhead, server
from bench.stats import median, paired_ratio, percentile, ratio
from bench.table import render

ROOT = Path(__file__).resolve().parents[2]


def test_percentiles_are_nearest_rank():
    samples = [float(value) for value in range(1, 101)]
    assert percentile(samples, 0.5) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile(samples, 1.0) == 100.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert percentile([7.0], 0.99) == 7.0
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)


def test_median_and_ratio():
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([5.0, 1.0, 3.0]) == 3.0
    assert ratio(3.0, 2.0) == 1.5


def test_paired_ratios_take_each_round_against_its_own_baseline():
    # The second round ran on a busy machine: both samples are slow, their ratio is not.
    assert paired_ratio([2.0, 20.0, 2.2], [1.0, 10.0, 1.0]) == 2.0
    assert ratio(median([2.0, 20.0, 2.2]), median([1.0, 10.0, 1.0])) == 2.2
    with pytest.raises(ValueError, match="2 samples against 1"):
        paired_ratio([1.0, 2.0], [1.0])


def test_transitions_count_the_states_entered():
    history = [
        {"type": "ExecutionStarted"},
        {"type": "PassStateEntered"},
        {"type": "PassStateExited"},
        {"type": "TaskStateEntered"},
        {"type": "ExecutionSucceeded"},
    ]
    assert cost.transitions_of(history) == 2


def test_cost_per_million_adds_up_from_the_prices():
    prices = {
        "date": "2026-11-23",
        "region": "us-east-1",
        "api_gateway_rest_per_million_requests": {"usd": 3.5},
        "lambda_per_million_requests": {"usd": 0.2},
        "lambda_arm64_per_gb_second": {"usd": 0.0000133334},
        "dynamodb_on_demand_per_million_write_request_units": {"usd": 0.625},
        "dynamodb_on_demand_per_million_read_request_units": {"usd": 0.125},
        "step_functions_standard_per_thousand_transitions": {"usd": 0.025},
        "eventbridge_aws_service_events_per_million": {"usd": 0.0},
        "eventbridge_scheduler_per_million_invocations": {"usd": 1.0},
    }
    inputs = cost.Inputs(
        start_ms=9.2,
        status_running_ms=4.0,
        status_finished_ms=2.0,
        transitions=6,
        authorize_hit_ms=0.4,
        authorize_miss_ms=3.1,
        auth_cache_hit_rate=0.9,
        reconcile_ms=2.0,
    )
    result = cost.cost_per_million(inputs, prices)
    # 11 API requests, each through the authorizer: 24 invocations (11 + 2 sync + 11 authorizer).
    # GB-s: (10 + 5*4 + 5*2 + 2*2) ms, and the authorizer's 1.1 misses at 4 ms, 9.9 hits at 1 ms; * 0.5 GB.
    # WRU: the start's 4, two status changes at 5, five view refreshes at 3, the final view's 2, the slot's
    # take and release at 1 = 33.
    # RRU: ten status reads of record and view at 1, two sync reads at 0.5, 1.1 credential reads at 0.5,
    # the end's read of its queue's head at 0.5.
    gb_seconds = (10 + 20 + 10 + 4 + 1.1 * 4 + 9.9 * 1) / 1000 * 0.5
    rru = 11 + 1.1 * 0.5 + 0.5
    expected_lambda = 24 * 0.2 + gb_seconds * 1_000_000 * 0.0000133334
    # The reconciler's month, 43,200 runs: the schedule, Lambda's request and 2 ms, 4 RRU each.
    runs = 43_200 / 1_000_000
    reconciler = runs * (1.0 + 0.2 + 0.002 * 0.5 * 1_000_000 * 0.0000133334 + 4 * 0.125)
    expected = 11 * 3.5 + expected_lambda + 33 * 0.625 + rru * 0.125 + 6 * 1000 * 0.025 + reconciler
    assert result["flowport"] == pytest.approx(expected, abs=0.01)
    assert result["direct_integration_floor"] == pytest.approx(11 * 3.5 + 150, abs=0.01)
    units = result["_units_per_execution"]
    assert result["_flowport_parts"]["reconciler_schedule"] == pytest.approx(reconciler, abs=0.01)
    assert units == {
        "wru": 33.0,
        "rru": pytest.approx(rru),
        "lambda_gb_seconds": pytest.approx(gb_seconds, abs=1e-6),
        "authorizer_invocations": 11,
        "authorizer_reads": pytest.approx(1.1),
    }


def test_the_shipped_prices_carry_a_date_and_a_source_each():
    prices = cost.load_prices()
    assert prices["date"] == "2026-11-23"
    for name, price in prices.items():
        if isinstance(price, dict):
            assert price["source"].startswith("https://aws.amazon.com/"), name
            assert price["usd"] >= 0, name


def test_cold_start_runs_the_function_as_lambda_would(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", "/somewhere/.venv")
    monkeypatch.setenv("PYTHONSTARTUP", "/somewhere/startup.py")
    stack = build_stack(ROOT / "template.yaml")
    function = stack.functions["StartFunction"]
    layer, runtime = tmp_path / "layer", tmp_path / "runtime"

    environ = coldstart._environment(function, [layer, runtime])

    assert environ["PYTHONPATH"].split(os.pathsep) == [str(function.code_uri), str(layer), str(runtime)]
    assert environ["LAMBDA_TASK_ROOT"] == str(function.code_uri)
    assert environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == str(function.memory)
    assert environ["FLOWPORT_TABLE_NAME"] == function.environment["FLOWPORT_TABLE_NAME"]
    assert environ["PYTHONDONTWRITEBYTECODE"] == "1"  # Lambda's code is read-only
    assert "VIRTUAL_ENV" not in environ
    assert "PYTHONSTARTUP" not in environ


def _results(cold_start: dict[str, Any]) -> dict[str, Any]:
    return {
        "cold_start": cold_start,
        "aws_calls": {"_targets": {}, "_calls": {}},
        "dispatch_latency": {"p50_ms": 40.0, "max_ms": 80.0, "pairs": 5},
        "watchers": {
            "pollers": 100,
            "streams": 10,
            "executions": 10,
            "seconds": 10.0,
            "history_calls": 90,
            "history_calls_per_execution_second": 0.9,
            "status_reads": 3000,
            "stream_looks": 100,
            "_target": 1.5,
        },
        "handler_overhead": {},
        "local_server": {
            "start": {},
            "status": {},
            "memory_mb_per_1000_keyed_starts": 41.0,
            "keyed_start_ms_tenth": 50.0,
            "keyed_start_ms_last": 110.0,
            "keyed_start_last_over_tenth": 2.2,
            "keyed_starts": 1000,
            "_targets": server.KEYED_TARGETS,
        },
        "package_mb": {"_unavailable": "no sam build"},
        "cost_per_million_usd": {"flowport": 1.0, "direct_integration_floor": 1.0, "_flowport_parts": {}},
    }


def test_the_table_holds_api_functions_to_both_cold_start_targets() -> None:
    figure = {"import_ms": 400.0, "boto3_ms": 250.0, "ratio_vs_boto3": 1.6, "ratio_vs_stack_floor": 1.0}
    targets = {"functions": ["start", "status", "cancel"], "ratio_vs_boto3": 1.5, "ratio_vs_stack_floor": 1.1}
    cold_start = {
        "_stack_floor": figure,
        "start": {**figure, "ratio_vs_boto3": 1.4, "ratio_vs_stack_floor": 1.05},
        "status": {**figure, "ratio_vs_boto3": 1.4, "ratio_vs_stack_floor": 1.2},  # flowport adds too much
        "cancel": {**figure, "ratio_vs_boto3": 1.6, "ratio_vs_stack_floor": 1.0},  # the floor is too high
        "parse_document": {**figure, "ratio_vs_boto3": 2.0},  # no target: not an API function
        "_targets": targets,
        "_method": "...",
    }

    rows = {row.split(" | ")[0]: row for row in render(_results(cold_start)).splitlines()}

    assert rows["| 1. cold start: the libraries alone (stack floor)"].endswith("|  |")
    assert rows["| 1. cold start `start`"].endswith("| met |")
    assert "<= 1.5x boto3, <= 1.1x floor" in rows["| 1. cold start `start`"]
    assert rows["| 1. cold start `status`"].endswith("| **missed** |")
    assert rows["| 1. cold start `cancel`"].endswith("| **missed** |")
    assert rows["| 1. cold start `parse_document`"].endswith("|  |")
    assert not any("_targets" in row or "_method" in row for row in rows)


def test_the_cold_start_targets_are_the_api_functions(stack: Stack) -> None:
    authorizers = {authorizer.function_arn for authorizer in stack.route_authorizers.values()}
    api = {spec.code_uri.name for spec in stack.functions.values() if spec.routes or spec.arn in authorizers}
    assert "authorize" in api
    assert set(coldstart.API_FUNCTIONS) == api


def _loaded(statement: str, cwd: Path) -> set[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True, timeout=60
    )
    return set(json.loads(completed.stdout.splitlines()[-1]))


def test_the_stack_floor_is_below_every_api_function(stack: Stack) -> None:
    """Everything the floor loads, every API function loads too: the floor is what they all share."""
    floor = _loaded(coldstart.STACK_FLOOR, ROOT)
    assert {"boto3", "pydantic", "aws_lambda_powertools.event_handler.api_gateway"} <= floor
    assert "aws_lambda_powertools.event_handler.middlewares.openapi_validation" in floor
    for spec in stack.functions.values():
        if spec.routes:
            assert floor - _loaded("import app", spec.code_uri) == set(), spec.logical_id


def test_the_table_holds_the_history_reads_of_watchers_to_their_target() -> None:
    figure = {"import_ms": 400.0, "boto3_ms": 250.0, "ratio_vs_boto3": 1.4, "ratio_vs_stack_floor": 1.0}
    rows = render(_results({"_stack_floor": figure, "_method": "..."})).splitlines()
    [watchers] = [row for row in rows if "100 pollers + 10 streams" in row]
    assert "0.9 GetExecutionHistory / execution-second" in watchers
    assert watchers.endswith("| <= 1.5 | met |")


def test_keyed_starts_are_counted_per_1000_and_compared_by_medians_of_ten() -> None:
    # 30 starts: nine slow at first and one between the windows (neither measured), the ten from the
    # tenth on at 40-49 ms, the last ten at 80-89 ms; one outlier in each window moves neither median.
    first, tenth_on, last = (
        [1.0] * 9,
        [(40 + n) / 1000 for n in range(10)],
        [(80 + n) / 1000 for n in range(10)],
    )
    latencies = first + tenth_on + [1.0] + last
    latencies[12] = latencies[-3] = 5.0

    figures = server.keyed_figures(latencies, grown_mb=3.0)

    assert figures["memory_mb_per_1000_keyed_starts"] == 100.0
    assert figures["keyed_start_ms_tenth"] == 45.5
    assert figures["keyed_start_ms_last"] == 84.5
    assert figures["keyed_start_last_over_tenth"] == 1.857
    assert figures["keyed_starts"] == 30
    with pytest.raises(ValueError, match="at least 29"):
        server.keyed_figures(latencies[:28], grown_mb=1.0)


def test_the_table_holds_keyed_starts_to_their_targets() -> None:
    figure = {"import_ms": 400.0, "boto3_ms": 250.0, "ratio_vs_boto3": 1.4, "ratio_vs_stack_floor": 1.0}
    rows = {row.split(" | ")[0]: row for row in render(_results({"_stack_floor": figure})).splitlines()}
    memory = rows["| 4. local server memory per 1000 keyed starts"]
    assert memory.endswith("| 41.0 MB (1000 starts) | < 100.0 MB | met |")
    slowdown = rows["| 4. local server keyed start, last vs tenth"]
    assert slowdown.endswith("| 110.0 ms vs 50.0 ms = 2.2x | <= 2.0x | **missed** |")


class _Looks:
    """Answers from a script, then the last one forever; counts how often it was asked."""

    def __init__(self, *answers: int) -> None:
        self.answers = list(answers)
        self.asked = 0

    def __call__(self) -> int:
        self.asked += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class _Bus:
    def __init__(self, *idle: bool) -> None:
        self.looks = _Looks(*idle)

    def idle(self) -> bool:
        return bool(self.looks())


def test_rest_waits_for_undelivered_events_even_once_the_threads_have_ended() -> None:
    bus = _Bus(True, False, False, False, True)  # idle when rest is made, then busy for three looks
    at_rest = overhead.AtRest(bus, _Looks(5))

    at_rest()

    assert bus.looks.asked == 5


def test_rest_waits_for_threads_started_since_even_once_their_events_are_delivered() -> None:
    threads = _Looks(5, 7, 6, 6, 5)  # 5 when rest is made
    bus = _Bus(True)
    at_rest = overhead.AtRest(bus, threads)

    at_rest()

    assert threads.asked == 5
    assert bus.looks.asked == 2  # when rest was made, and once the threads were back to it
