"""Figure 9: completion webhooks (issue 17). AWS calls a callback adds to an execution (target: at most 3
for a delivery its first attempt makes), the local latency from an execution's end (Step Functions' stop
date) to the receiver, and the modelled cost of a million deliveries."""

from __future__ import annotations

import time
from typing import Any

from flowport import services
from flowport.core import webhooks
from flowport.core.models import ExecutionRecord
from flowport.local.cloud import LocalCloud

from bench import cost
from bench.stats import median
from tests.support import TICKET, Api, calls_recorded, wait_until
from tests.webhooks.receiver import Receiver, receiving

TARGET_CALLS = 3
LATENCY_SAMPLES = 7
# The caller of events/start-execution.json, whom Api.start starts as.
STARTER = "p_sampleprincipal00001"
# Per delivered first attempt, besides the calls counted: the SQS event source's ReceiveMessage and
# DeleteMessage of the message (batches of one: template.yaml), one invocation of the deliver function,
# a BatchGetItem of two small items (eventually consistent: 0.5 RRU each) and an update of the log (1 WRU).
EVENT_SOURCE_REQUESTS = 2
RRU_PER_DELIVERY = 1.0
WRU_PER_DELIVERY = 1.0


def _end_to_receiver_ms(api: Api, receiver: Receiver) -> float:
    execution_id = str(
        api.start(body=TICKET, query={"callbackUrl": f"{receiver.url}/ok"}).json()["executionId"]
    )
    delivery = wait_until(
        lambda: next(
            (
                d
                for d in receiver.deliveries
                if d.payload and d.payload["data"]["executionId"] == execution_id
            ),
            None,
        )
    )
    assert delivery is not None
    record = services.execution_store().get(execution_id, 0)
    assert record is not None
    assert record.completed_at is not None
    return (delivery.received_at - record.completed_at.timestamp()) * 1000


def _finished_with_callback(api: Api, url: str) -> ExecutionRecord:
    execution_id = str(api.start(body=TICKET, query={"callbackUrl": url}).json()["executionId"])

    def finished() -> ExecutionRecord | None:
        record = services.execution_store().get(execution_id, 0)
        return record if record is not None and record.status.is_terminal else None

    record = wait_until(finished)
    assert record is not None
    return record


def measure(cloud: LocalCloud) -> dict[str, Any]:
    api = Api(cloud.stack)
    secret = services.rotate_webhook_secret().rotate(STARTER)
    with receiving(secret) as receiver:
        latencies = sorted(_end_to_receiver_ms(api, receiver) for _ in range(LATENCY_SAMPLES))
        # Counted on this thread: the sync function's share (queuing the end of a finished record, as it
        # does for each report of it) and the deliver function's attempt, with the event source stopped.
        assert cloud.queue_pollers is not None
        cloud.queue_pollers.close()
        record = _finished_with_callback(api, f"{receiver.url}/ok")
        assert record.callback is not None
        assert record.completed_at is not None
        message = webhooks.delivery_message(record, record.callback, record.completed_at)
        with calls_recorded() as log:
            queued = log.during(lambda: services.enqueue_delivery().reported(record))
            before = time.perf_counter()
            delivered = log.during(lambda: services.deliver_callback().deliver(message))
            deliver_ms = (time.perf_counter() - before) * 1000
    calls = queued + delivered
    return {
        "calls_per_delivery": len(calls),
        "_calls": calls,
        "_target_calls": TARGET_CALLS,
        "end_to_receiver_p50_ms": round(median(latencies), 1),
        "end_to_receiver_max_ms": round(latencies[-1], 1),
        "_samples": LATENCY_SAMPLES,
        "deliver_ms": round(deliver_ms, 1),
        "cost_per_million_deliveries_usd": cost_per_million_deliveries(
            deliver_ms, len(calls), cost.load_prices()
        ),
    }


def cost_per_million_deliveries(deliver_ms: float, calls: int, prices: dict[str, Any]) -> dict[str, Any]:
    """USD for 1,000,000 deliveries taken by their first attempt; each retry adds about as much again."""
    million = 1_000_000
    sqs_requests = 1 + EVENT_SOURCE_REQUESTS  # SendMessage, then the event source's receive and delete
    parts = {
        "sqs": sqs_requests * cost._price(prices, "sqs_standard_per_million_requests"),
        "lambda": cost._price(prices, "lambda_per_million_requests")
        + cost._lambda_gb_seconds(deliver_ms) * million * cost._price(prices, "lambda_arm64_per_gb_second"),
        "dynamodb": WRU_PER_DELIVERY
        * cost._price(prices, "dynamodb_on_demand_per_million_write_request_units")
        + RRU_PER_DELIVERY * cost._price(prices, "dynamodb_on_demand_per_million_read_request_units"),
    }
    return {
        "total": round(sum(parts.values()), 2),
        "_parts": {name: round(value, 2) for name, value in parts.items()},
        "_note": f"{calls} AWS calls counted; the deliver function's duration is moto's and a local "
        "receiver's, so a lower bound: a receiver that takes its whole 15 s adds about 100 USD per million "
        "deliveries in Lambda time (15 s at 512 MB)",
    }
