"""Figure 6: modelled cost of one million executions, each started once and polled ten times, from the
counted calls, the measured handler durations and the list prices in bench/prices.json."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PRICES = Path(__file__).with_name("prices.json")
MEMORY_GB = 512 / 1024  # template.yaml Globals: MemorySize 512, arm64
POLLS = 10
# Of the ten polls, how many find the execution still running (a read and a history page) rather than
# finished (one read). An assumption: half and half.
POLLS_RUNNING = 5
# DynamoDB units, from the table's design (template.yaml) rather than measured: moto does not charge.
# Execution records are under 1 KB. Writing one also writes the three record indexes it has keys for
# (ByWorkflow, ByStatus, ByDay; no correlationId in the sample), so 1 + 3 WRU. A status change rewrites
# it: 1 WRU, 2 in ByStatus (the key moves: delete and put), 1 in each of ByWorkflow and ByDay (projected).
# Reads are eventually consistent: 0.5 RRU per item under 4 KB. A status read gets the record and its live
# view together (BatchGetItem of two items, 1 RRU). A poll of a running execution is taken to find its
# view stale (polls are seconds apart): it claims the refresh (an update of the small view item, 1 WRU)
# and writes the new view (a compressed page of node events, 1-2 KB for the sample: 2 WRU). The sync
# function keeps the final view once (2 WRU).
WRU_RECORD_PUT = 4.0
WRU_STATUS_UPDATE = 5.0
RRU_GET = 0.5
RRU_STATUS_READ = 1.0
WRU_VIEW_REFRESH = 3.0
WRU_FINAL_VIEW = 2.0
# The sync function gets two status-change events per execution (RUNNING, then SUCCEEDED); each is a read
# and an update of the record. Its duration is taken as the finished-status handler's (not measured apart).
SYNC_EVENTS = 2
# Every request runs the authorizer (API Gateway's own cache is off: template.yaml says why); a request
# whose credential its container checked within FLOWPORT_AUTH_CACHE_SECONDS costs no read. An assumption:
# nine in ten are, as for a client that polls every few seconds and a TTL of 300 s over a few warm
# containers. A miss reads one credential item (under 4 KB: 0.5 RRU).
AUTH_CACHE_HIT_RATE = 0.9
# Admission control: every start takes its workflow's slot and every end frees it (or hands it over),
# one small item's update each (1 WRU while the item holds under 1 KB of holders, some 20; it grows by
# about 50 bytes a holder, so a workflow running hundreds at once pays a WRU per KB of them), and every end
# reads the head of its queue (a Query of the keys-only index: 0.5 RRU).
WRU_SLOT = 1.0
SLOT_WRITES = 2
RRU_QUEUE_HEAD = 0.5
# The reconciler runs every minute whatever the traffic: its month (30 days) is charged to the million
# executions, taken as a month's traffic. A run reads each workflow's slot item and queue (4 workflows).
RECONCILE_RUNS_PER_MONTH = 30 * 24 * 60
RECONCILE_RRU_PER_RUN = 4 * (0.5 + 0.5)


@dataclass(frozen=True)
class Inputs:
    start_ms: float
    status_running_ms: float
    status_finished_ms: float
    transitions: int
    authorize_hit_ms: float = 0.0
    authorize_miss_ms: float = 0.0
    auth_cache_hit_rate: float = AUTH_CACHE_HIT_RATE
    start_dynamodb_writes: int = 1
    polls: int = POLLS
    polls_running: int = POLLS_RUNNING
    sync_events: int = SYNC_EVENTS
    reconcile_ms: float = 0.0


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    prices: dict[str, Any] = json.loads(path.read_text())
    return prices


def _price(prices: dict[str, Any], name: str) -> float:
    return float(prices[name]["usd"])


def _lambda_gb_seconds(duration_ms: float) -> float:
    return math.ceil(duration_ms) / 1000 * MEMORY_GB  # billed by the millisecond, rounded up


def cost_per_million(inputs: Inputs, prices: dict[str, Any]) -> dict[str, Any]:
    """USD for 1,000,000 executions, by part, for flowport and for API Gateway's direct integration."""
    million = 1_000_000
    requests = 1 + inputs.polls
    polls_finished = inputs.polls - inputs.polls_running
    api_gateway = requests * _price(prices, "api_gateway_rest_per_million_requests")
    misses = requests * (1 - inputs.auth_cache_hit_rate)
    invocations = requests + inputs.sync_events + requests  # and the authorizer, for every request
    gb_seconds = (
        _lambda_gb_seconds(inputs.start_ms)
        + inputs.polls_running * _lambda_gb_seconds(inputs.status_running_ms)
        + polls_finished * _lambda_gb_seconds(inputs.status_finished_ms)
        + inputs.sync_events * _lambda_gb_seconds(inputs.status_finished_ms)
        + misses * _lambda_gb_seconds(inputs.authorize_miss_ms)
        + (requests - misses) * _lambda_gb_seconds(inputs.authorize_hit_ms)
    )
    lambda_cost = invocations * _price(prices, "lambda_per_million_requests") + gb_seconds * million * _price(
        prices, "lambda_arm64_per_gb_second"
    )
    wru = (
        inputs.start_dynamodb_writes * WRU_RECORD_PUT
        + inputs.sync_events * WRU_STATUS_UPDATE
        + inputs.polls_running * WRU_VIEW_REFRESH
        + WRU_FINAL_VIEW
        + SLOT_WRITES * WRU_SLOT
    )
    rru = inputs.polls * RRU_STATUS_READ + inputs.sync_events * RRU_GET + misses * RRU_GET + RRU_QUEUE_HEAD
    dynamodb = wru * _price(prices, "dynamodb_on_demand_per_million_write_request_units") + rru * _price(
        prices, "dynamodb_on_demand_per_million_read_request_units"
    )
    step_functions = (
        inputs.transitions * 1000 * _price(prices, "step_functions_standard_per_thousand_transitions")
    )
    eventbridge = inputs.sync_events * _price(prices, "eventbridge_aws_service_events_per_million")
    runs = RECONCILE_RUNS_PER_MONTH / million  # per execution, in millions of runs per million executions
    scheduler = runs * (
        _price(prices, "eventbridge_scheduler_per_million_invocations")
        + _price(prices, "lambda_per_million_requests")
        + _lambda_gb_seconds(inputs.reconcile_ms) * million * _price(prices, "lambda_arm64_per_gb_second")
        + RECONCILE_RRU_PER_RUN * _price(prices, "dynamodb_on_demand_per_million_read_request_units")
    )
    flowport = {
        "api_gateway": api_gateway,
        "lambda": lambda_cost,
        "dynamodb": dynamodb,
        "step_functions": step_functions,
        "eventbridge": eventbridge,
        "reconciler_schedule": scheduler,
    }
    floor = {"api_gateway": api_gateway, "step_functions": step_functions}
    return {
        "flowport": round(sum(flowport.values()), 2),
        "direct_integration_floor": round(sum(floor.values()), 2),
        "_flowport_parts": {name: round(value, 2) for name, value in flowport.items()},
        "_floor_parts": {name: round(value, 2) for name, value in floor.items()},
        "_inputs": asdict(inputs),
        "_units_per_execution": {
            "wru": wru,
            "rru": round(rru, 3),
            "lambda_gb_seconds": round(gb_seconds, 6),
            "authorizer_invocations": requests,
            "authorizer_reads": round(misses, 3),
        },
        "_prices": f"{PRICES.name}, list prices dated {prices['date']} ({prices['region']})",
        "_note": (
            "durations are moto's, which understate real DynamoDB and Step Functions latency, so the Lambda "
            "part is a lower bound; the floor is API Gateway calling StartExecution and DescribeExecution "
            "directly (no Lambda, no DynamoDB) with the same workflow transitions"
        ),
    }


def transitions_of(history: list[dict[str, Any]]) -> int:
    """State transitions billed for one execution: one per state entered (Step Functions standard)."""
    return sum(1 for event in history if str(event["type"]).endswith("StateEntered"))
