"""The webhook adapters against moto, on the table and queues template.yaml declares: secrets and
delivery logs (one read for both, conditional appends, two racing deliveries of one attempt), the
failure onto the execution's record, the delivery queue's hops and dead letters."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from flowport import services
from flowport.aws.deliveries import DeliveryStore, SqsDeliveryQueue
from flowport.core import webhooks
from flowport.core.models import DeliveryAttempt, DeliveryLog, DeliveryState
from flowport.core.webhooks import DeliveryMessage, WebhookSecrets
from flowport.local.cloud import LocalCloud
from flowport.local.template import LOCAL_REGION

from tests.support import TICKET, Api, new_principal

RACES = 8


@pytest.fixture
def store(cloud: LocalCloud) -> DeliveryStore:
    (table,) = cloud.stack.tables.values()
    return DeliveryStore(boto3.client("dynamodb"), table.name)


def log(count: int, at: datetime, state: DeliveryState = DeliveryState.PENDING) -> DeliveryLog:
    attempt = DeliveryAttempt(at=at, response_status=500, latency_ms=3)
    return DeliveryLog(
        execution_id="e-1",
        message_id="msg_1",
        type="execution.completed",
        url="https://hooks.example.com/in",
        state=state,
        attempt_count=count,
        attempts=[attempt],
        next_attempt_at=at + timedelta(seconds=5) if state is DeliveryState.PENDING else None,
        expires_at=int(at.timestamp()) + 86400,
    )


def test_secrets_and_a_log_are_read_together(store: DeliveryStore):
    now = datetime.now(UTC)
    assert store.pending("e-1", "msg_1", "p_1") == (None, None)
    secrets = WebhookSecrets(owner="p_1", current=webhooks.new_secret())
    store.save(secrets)
    assert store.record(log(1, now))
    found, read = store.pending("e-1", "msg_1", "p_1")
    assert read == secrets
    assert found is not None
    assert found.attempt_count == 1


def test_a_start_reads_a_principal_s_callback_hosts_and_not_its_secrets(store: DeliveryStore):
    assert store.callback_hosts("p_1") is None  # no secret: it cannot sign callbacks
    store.save(WebhookSecrets(owner="p_1", current=webhooks.new_secret()))
    assert store.callback_hosts("p_1") == ()
    store.save(
        WebhookSecrets(owner="p_2", current=webhooks.new_secret(), callback_hosts=("*.partner.example",))
    )
    # Read with a projection the start function's policy holds it to (tests/test_iam.py checks the call).
    assert store.callback_hosts("p_2") == ("*.partner.example",)


def test_attempts_append_in_order_and_a_stale_one_is_refused(store: DeliveryStore):
    now = datetime.now(UTC)
    assert store.record(log(1, now))
    assert not store.record(log(1, now))  # the same first attempt again
    assert not store.record(log(3, now))  # one that skips an attempt
    assert store.record(log(2, now + timedelta(seconds=5), DeliveryState.DELIVERED))
    (found,) = store.logs("e-1")
    assert [a.at for a in found.attempts] == [now, now + timedelta(seconds=5)]
    assert found.state is DeliveryState.DELIVERED
    assert found.next_attempt_at is None


def test_of_deliveries_racing_to_record_one_attempt_one_wins(store: DeliveryStore):
    now = datetime.now(UTC)
    won: list[bool] = []
    barrier = threading.Barrier(RACES)

    def race(number: int) -> None:
        barrier.wait()
        won.append(store.record(log(1, now + timedelta(milliseconds=number))))

    threads = [threading.Thread(target=race, args=(number,)) for number in range(RACES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(won) == [False] * (RACES - 1) + [True]


def test_a_failure_is_said_on_the_execution_s_record(cloud: LocalCloud, store: DeliveryStore):
    services.rotate_webhook_secret().rotate("p_sampleprincipal00001")
    started = Api(cloud.stack).start(
        body=TICKET, query={"callbackUrl": "http://127.0.0.1:9/", "callbackEvents": "failed"}
    )
    execution_id = started.json()["executionId"]
    store.mark_failed(execution_id, DeliveryState.FAILED)
    store.mark_failed("no-such-execution", DeliveryState.FAILED)  # nothing to say it on: no error
    record = services.execution_store().get(execution_id, 0)
    assert record is not None
    assert record.callback is not None
    assert record.callback.failed is DeliveryState.FAILED


def _message(delay: int) -> DeliveryMessage:
    return DeliveryMessage(
        execution_id="e-1",
        message_id="msg_1",
        type="execution.completed",
        url="https://hooks.example.com/",
        secret_owner="p_1",
        body="{}",
        not_before=float(delay),
        expires_at=1,
    )


def test_the_queue_delays_a_hop_and_keeps_dead_letters(cloud: LocalCloud):
    assert cloud.queue_pollers is not None
    cloud.queue_pollers.close()  # nobody takes the messages here
    sqs: Any = boto3.client("sqs", region_name=LOCAL_REGION)
    queues = cloud.stack.queues
    queue = SqsDeliveryQueue(
        lambda: sqs, queues["DeliveriesQueue"].url, queues["DeliveriesDeadLetterQueue"].url
    )
    queue.send(_message(900), delay_seconds=900)
    queue.dead_letter(_message(0))
    assert sqs.receive_message(QueueUrl=queues["DeliveriesQueue"].url).get("Messages", []) == []
    (dead,) = sqs.receive_message(QueueUrl=queues["DeliveriesDeadLetterQueue"].url)["Messages"]
    assert DeliveryMessage.model_validate(json.loads(dead["Body"])) == _message(0)


def test_a_deleted_principal_s_secrets_go_with_it(cloud: LocalCloud, store: DeliveryStore):
    principal = new_principal()
    services.rotate_webhook_secret().rotate(principal)
    assert store.secrets(principal) is not None
    services.manage_principals().delete(principal)
    assert store.secrets(principal) is None
