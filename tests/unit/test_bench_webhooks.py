"""Figure 9's cost model (bench/webhooks.py) and its rows, checked without running the bench."""

from __future__ import annotations

import pytest

from bench import cost, webhooks
from bench.table import _webhook_rows


def test_a_million_deliveries_cost_their_sqs_requests_invocations_and_units():
    prices = cost.load_prices()
    result = webhooks.cost_per_million_deliveries(deliver_ms=100, calls=3, prices=prices)
    sqs = 3 * prices["sqs_standard_per_million_requests"]["usd"]
    lambda_cost = (
        prices["lambda_per_million_requests"]["usd"]
        + 0.1 * 0.5 * 1e6 * prices["lambda_arm64_per_gb_second"]["usd"]
    )
    dynamodb = (
        prices["dynamodb_on_demand_per_million_write_request_units"]["usd"]
        + prices["dynamodb_on_demand_per_million_read_request_units"]["usd"]
    )
    assert result["total"] == pytest.approx(sqs + lambda_cost + dynamodb, abs=0.01)


def test_the_rows_mark_the_calls_target():
    figures = {
        "calls_per_delivery": 4,
        "_calls": ["a", "b", "c", "d"],
        "_target_calls": 3,
        "end_to_receiver_p50_ms": 1.0,
        "end_to_receiver_max_ms": 2.0,
        "_samples": 7,
        "cost_per_million_deliveries_usd": {"total": 2.0},
    }
    calls, _, _ = _webhook_rows(figures)
    assert "**missed**" in calls
    assert _webhook_rows(None) == []
