"""Completion webhooks end to end over the deployed stack in moto: a start with a callback, the sync
function queuing its end, the deliver function (driven by the local SQS event source) posting it for
real over HTTP to a receiver on 127.0.0.1 that verifies it with `standardwebhooks`, on the retry
schedule compressed 100 000 times (67.6 h in about 2.4 s)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from flowport import services
from flowport.core.webhooks import RETRY_DELAYS
from flowport.local.cloud import LocalCloud
from flowport.local.functions import invoke
from flowport.local.template import LOCAL_REGION

from tests.support import TICKET, Api, HandlerStreams, load_event, wait_until
from tests.webhooks.receiver import Receiver, receiving

SAMPLE_PRINCIPAL = "p_sampleprincipal00001"  # the caller of events/start-execution.json
SCALE = 1e-5
ATTEMPTS = len(RETRY_DELAYS)


@pytest.fixture
def webhook_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWPORT_WEBHOOK_CLOCK_SCALE", str(SCALE))
    monkeypatch.setenv("FLOWPORT_WEBHOOK_TIMEOUT_SECONDS", "0.3")


@pytest.fixture
def secret(webhook_settings: None, cloud: LocalCloud) -> str:
    return services.rotate_webhook_secret().rotate(SAMPLE_PRINCIPAL)


@pytest.fixture
def receiver(secret: str) -> Iterator[Receiver]:
    with receiving(secret) as started:
        yield started


def start(api: Api, url: str, **query: str) -> dict[str, Any]:
    started = api.start(body=TICKET, query={"callbackUrl": url, **query})
    assert started.status == 202, started.body
    return dict(started.json())


def deliveries(api: Api, execution_id: str) -> dict[str, Any]:
    answer = api.deliveries(execution_id)
    assert answer.status == 200, answer.body
    return dict(answer.json())


def settled(api: Api, execution_id: str) -> dict[str, Any]:
    """The execution's one message once it is no longer pending."""

    def done() -> dict[str, Any] | None:
        items = deliveries(api, execution_id)["items"]
        return items[0] if items and items[0]["state"] != "pending" else None

    return wait_until(done, timeout=30)


def test_an_end_is_delivered_once_signed_as_standard_webhooks(api: Api, receiver: Receiver):
    execution = start(api, f"{receiver.url}/ok")
    message = settled(api, execution["executionId"])
    assert message["state"] == "delivered"
    (delivery,) = receiver.deliveries
    assert delivery.payload is not None, "standardwebhooks did not verify the signature"
    assert delivery.headers["webhook-id"] == message["messageId"]
    assert delivery.payload["type"] == "execution.completed"
    data = delivery.payload["data"]
    assert data["executionId"] == execution["executionId"]
    assert data["status"] == "COMPLETED"
    assert "queue" in data["output"]
    assert data["links"]["self"].endswith(f"/executions/{execution['executionId']}")
    (attempt,) = message["attempts"]
    assert attempt["responseStatus"] == 200
    assert "nextAttemptAt" not in message


def test_a_failing_receiver_gets_the_same_message_again_until_it_takes_it(api: Api, receiver: Receiver):
    execution = start(api, f"{receiver.url}/fail/2")
    message = settled(api, execution["executionId"])
    assert message["state"] == "delivered"
    assert [a["responseStatus"] for a in message["attempts"]] == [500, 500, 200]
    ids = {d.headers["webhook-id"] for d in receiver.deliveries}
    assert ids == {message["messageId"]}
    assert all(d.payload is not None for d in receiver.deliveries)


def test_after_the_last_attempt_the_message_is_dead_lettered_and_the_status_says_so(
    api: Api, receiver: Receiver, cloud: LocalCloud
):
    execution = start(api, f"{receiver.url}/always-fail")
    message = settled(api, execution["executionId"])
    assert message["state"] == "failed"
    assert len(message["attempts"]) == ATTEMPTS == len(receiver.deliveries)
    assert api.get(execution["executionId"]).json()["callbackDelivery"] == "failed"
    queue = cloud.stack.queues["DeliveriesDeadLetterQueue"]
    sqs = boto3.client("sqs", region_name=LOCAL_REGION)
    (dead,) = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(dead["Body"])["messageId"] == message["messageId"]


def test_a_receiver_that_times_out_is_retried_and_one_in_time_is_delivered(api: Api, receiver: Receiver):
    late = start(api, f"{receiver.url}/slow/0.6")
    in_time = start(api, f"{receiver.url}/slow/0.1")
    message = settled(api, in_time["executionId"])
    assert message["state"] == "delivered"
    assert message["attempts"][0]["latencyMs"] >= 100
    failed = settled(api, late["executionId"])
    assert failed["state"] == "failed"
    assert {a.get("responseStatus") for a in failed["attempts"]} == {None}
    assert all(a["error"] for a in failed["attempts"])


def test_retry_after_of_429_and_503_puts_the_next_attempt_off(api: Api, receiver: Receiver):
    execution = start(api, f"{receiver.url}/limited/36000")  # 10 h: 0.36 s on this clock
    message = settled(api, execution["executionId"])
    assert [a["responseStatus"] for a in message["attempts"]] == [429, 503, 200]
    first, second, _ = (d.at for d in receiver.deliveries)
    # The schedule alone would wait 5 s after the first (50 µs here): Retry-After made it 0.36 s.
    assert second - first >= 36000 * SCALE


def test_410_disables_the_callback_after_one_attempt(api: Api, receiver: Receiver):
    execution = start(api, f"{receiver.url}/gone")
    message = settled(api, execution["executionId"])
    assert message["state"] == "disabled"
    assert len(message["attempts"]) == 1 == len(receiver.deliveries)
    assert api.get(execution["executionId"]).json()["callbackDelivery"] == "disabled"


def test_a_redirect_is_not_followed(api: Api, receiver: Receiver):
    execution = start(api, f"{receiver.url}/redirect")
    wait_until(lambda: len(receiver.deliveries) >= 2, timeout=30)
    message = deliveries(api, execution["executionId"])["items"][0]
    assert {a["responseStatus"] for a in message["attempts"]} == {302}
    assert {d.path for d in receiver.deliveries} == {"/redirect"}


def test_duplicate_end_events_make_one_message_delivered_once(
    api: Api, receiver: Receiver, cloud: LocalCloud
):
    execution = start(api, f"{receiver.url}/ok")
    message = settled(api, execution["executionId"])
    record = services.execution_store().get(execution["executionId"], time.time())
    assert record is not None
    event = load_event("execution-status-change")
    event["detail"].update(
        {
            "executionArn": record.execution_arn,
            "stateMachineArn": record.state_machine_arn,
            "name": record.execution_id,
            "status": "SUCCEEDED",
            "output": json.dumps(record.output),
        }
    )
    for _ in range(3):
        invoke(cloud.stack.functions["SyncFunction"], event)
    queue = cloud.stack.queues["DeliveriesQueue"]
    sqs = boto3.client("sqs", region_name=LOCAL_REGION)

    def drained() -> bool:
        attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["All"])["Attributes"]
        return (
            attributes["ApproximateNumberOfMessages"]
            == attributes["ApproximateNumberOfMessagesNotVisible"]
            == "0"
        )

    wait_until(drained)
    assert receiver.seen(message["messageId"]) == 1
    assert len(deliveries(api, execution["executionId"])["items"][0]["attempts"]) == 1


def test_only_the_events_asked_for_are_sent(api: Api, receiver: Receiver):
    execution = start(api, f"{receiver.url}/ok", callbackEvents="failed,timed_out")
    api.wait_for_status(execution["executionId"], "COMPLETED")
    ok = start(api, f"{receiver.url}/ok")
    settled(api, ok["executionId"])
    assert deliveries(api, execution["executionId"])["items"] == []
    assert {d.payload["data"]["executionId"] for d in receiver.deliveries if d.payload} == {ok["executionId"]}


def test_no_secret_or_signature_reaches_a_log(api: Api, receiver: Receiver, secret: str):
    with HandlerStreams() as streams:
        execution = start(api, f"{receiver.url}/fail/1?token=t0ps3cret")
        settled(api, execution["executionId"])
    logged = streams.buffer.getvalue()
    assert "delivery attempt" in logged
    signatures = {d.headers["webhook-signature"].split(",", 1)[1] for d in receiver.deliveries}
    for hidden in (secret, secret.removeprefix("whsec_"), "t0ps3cret", *signatures):
        assert hidden not in logged
    assert "t0ps3cret" not in json.dumps(deliveries(api, execution["executionId"]))


def test_running_is_sent_when_asked_for_as_a_message_of_its_own(api: Api, receiver: Receiver):
    execution = start(api, f"{receiver.url}/ok", callbackEvents="running,completed")
    api.wait_for_status(execution["executionId"], "COMPLETED")

    def both() -> list[dict[str, Any]] | None:
        items = deliveries(api, execution["executionId"])["items"]
        return items if len(items) == 2 and all(i["state"] == "delivered" for i in items) else None

    items = wait_until(both, timeout=30)
    assert sorted(item["type"] for item in items) == ["execution.completed", "execution.running"]
    assert len({item["messageId"] for item in items}) == 2


def test_a_rerun_calls_its_original_s_callback_back(api: Api, receiver: Receiver):
    first = start(api, f"{receiver.url}/ok", callbackEvents="completed")
    settled(api, first["executionId"])
    rerun = api.rerun(first["executionId"])
    assert rerun.status == 202, rerun.body
    message = settled(api, rerun.json()["executionId"])
    assert message["state"] == "delivered"
    assert {d.payload["data"]["executionId"] for d in receiver.deliveries if d.payload} == {
        first["executionId"],
        rerun.json()["executionId"],
    }


def test_a_start_that_waits_in_its_queue_says_so_when_asked(api: Api, receiver: Receiver):
    """partner-sync runs two at once: the third waits, and its callback hears `queued`."""
    pushes = [api.start("partner-sync", {"batchId": f"b{n}", "seconds": 60}).json() for n in (1, 2)]
    third = api.start(
        "partner-sync",
        {"batchId": "b3", "seconds": 60},
        query={"callbackUrl": f"{receiver.url}/ok", "callbackEvents": "queued"},
    ).json()
    assert third["status"] == "QUEUED"
    message = settled(api, third["executionId"])
    assert message["type"] == "execution.queued"
    (delivery,) = receiver.deliveries
    assert delivery.payload is not None
    assert delivery.payload["data"]["status"] == "QUEUED"
    for execution in (*pushes, third):
        api.cancel(execution["executionId"])
