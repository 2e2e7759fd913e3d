"""The pure parts of `make bench` (bench/): percentiles and the cost model."""

from __future__ import annotations

import pytest

from bench import cost
from bench.stats import median, percentile, ratio


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
    }
    inputs = cost.Inputs(start_ms=9.2, status_running_ms=4.0, status_finished_ms=2.0, transitions=6)
    result = cost.cost_per_million(inputs, prices)
    # 11 API requests; 13 invocations; GB-s: (10 + 5*4 + 5*2 + 2*2) ms * 0.5 GB; 4 + 2*5 WRU; 12 * 0.5 RRU.
    gb_seconds = (10 + 20 + 10 + 4) / 1000 * 0.5
    expected_lambda = 13 * 0.2 + gb_seconds * 1_000_000 * 0.0000133334
    expected = 11 * 3.5 + expected_lambda + 14 * 0.625 + 6 * 0.125 + 6 * 1000 * 0.025
    assert result["flowport"] == pytest.approx(expected, abs=0.01)
    assert result["direct_integration_floor"] == pytest.approx(11 * 3.5 + 150, abs=0.01)
    assert result["_units_per_execution"] == {"wru": 14.0, "rru": 6.0, "lambda_gb_seconds": gb_seconds}


def test_the_shipped_prices_carry_a_date_and_a_source_each():
    prices = cost.load_prices()
    assert prices["date"] == "2026-11-23"
    for name, price in prices.items():
        if isinstance(price, dict):
            assert price["source"].startswith("https://aws.amazon.com/"), name
            assert price["usd"] >= 0, name
