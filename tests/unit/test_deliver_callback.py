"""The sender's use case (flowport.usecases.webhooks.DeliverCallback) on in-memory fakes and a clock the
test moves: long waits are chained hops of SQS's 15 minutes, a message is attempted once however often
it is queued, and what follows each answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flowport.core import webhooks
from flowport.core.models import DeliveryLog, DeliveryState, ExecutionStatus
from flowport.core.ports import CallbackAnswer
from flowport.core.webhooks import CallbackTarget, DeliveryMessage, WebhookSecrets
from flowport.usecases.webhooks import DeliverCallback, EnqueueDelivery
from standardwebhooks import Webhook

from tests.support import settings_for_tests
from tests.unit.test_status import record

SECRET = webhooks.new_secret()


@dataclass
class Logs:
    logs: dict[str, DeliveryLog] = field(default_factory=dict)
    failed: dict[str, DeliveryState] = field(default_factory=dict)
    secrets_of: dict[str, WebhookSecrets] = field(default_factory=dict)

    def secrets(self, owner: str) -> WebhookSecrets | None:
        return self.secrets_of.get(owner)

    def save(self, secrets: WebhookSecrets) -> None:
        self.secrets_of[secrets.owner] = secrets

    def pending(self, execution_id: str, message_id: str, owner: str) -> tuple[DeliveryLog | None, Any]:
        return self.logs.get(message_id), self.secrets_of.get(owner)

    def record(self, log: DeliveryLog) -> bool:
        before = self.logs.get(log.message_id)
        if (before.attempt_count if before else 0) != log.attempt_count - 1:
            return False
        attempts = [*(before.attempts if before else []), *log.attempts]
        self.logs[log.message_id] = log.model_copy(update={"attempts": attempts})
        return True

    def mark_failed(self, execution_id: str, state: DeliveryState) -> None:
        self.failed[execution_id] = state


@dataclass
class Queue:
    sent: list[tuple[DeliveryMessage, int]] = field(default_factory=list)
    dead: list[DeliveryMessage] = field(default_factory=list)

    def send(self, message: DeliveryMessage, delay_seconds: int) -> None:
        self.sent.append((message, delay_seconds))

    def dead_letter(self, message: DeliveryMessage) -> None:
        self.dead.append(message)


@dataclass
class Receiver:
    answers: list[CallbackAnswer]
    addresses: list[str] = field(default_factory=lambda: ["93.184.216.34"])
    posts: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)

    def resolve(self, host: str, port: int) -> list[str]:
        return self.addresses

    def post(
        self, target: CallbackTarget, address: str, headers: Any, body: bytes, timeout: float
    ) -> CallbackAnswer:
        self.posts.append((address, dict(headers), body))
        return self.answers.pop(0)


class World:
    def __init__(self, *answers: CallbackAnswer) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)  # standardwebhooks checks against its clock
        self.logs = Logs(secrets_of={"p_1": WebhookSecrets(owner="p_1", current=SECRET)})
        self.queue = Queue()
        self.receiver = Receiver(list(answers))
        self.waited: list[float] = []
        self.sender = DeliverCallback(
            self.logs,
            self.queue,
            self.receiver,
            settings_for_tests(),
            clock=lambda: self.now,
            monotonic=lambda: 0.0,
            wait=self.waited.append,
        )

    def message(self) -> DeliveryMessage:
        finished = record(
            execution_id="e-1",
            status=ExecutionStatus.COMPLETED,
            created_at=self.now,
            output={"queue": "priority"},
            expires_at=int(self.now.timestamp()) + 86400,
        )
        callback = webhooks.Callback(url="https://hooks.example.com/in?t=1", secret_owner="p_1")
        return webhooks.delivery_message(finished, callback, self.now)


def test_a_first_attempt_is_signed_posted_to_the_checked_address_and_logged():
    world = World(CallbackAnswer(204))
    log = world.sender.deliver(world.message())
    assert log is not None
    assert log.state is DeliveryState.DELIVERED
    ((address, headers, body),) = world.receiver.posts
    assert address == "93.184.216.34"
    assert Webhook(SECRET).verify(body, headers)["data"]["output"] == {"queue": "priority"}
    assert world.queue.sent == []


def test_a_failure_queues_the_next_attempt_after_the_schedule_s_wait():
    world = World(CallbackAnswer(500))
    message = world.message()
    world.sender.deliver(message)
    ((next_message, delay),) = world.queue.sent
    assert (next_message.attempt, delay) == (1, webhooks.RETRY_DELAYS[1])
    assert next_message.not_before == (world.now + timedelta(seconds=5)).timestamp()
    assert next_message.message_id == message.message_id


def test_a_wait_longer_than_15_minutes_is_chained_hops_without_any_read():
    world = World(CallbackAnswer(200))
    waiting = world.message().model_copy(update={"not_before": (world.now + timedelta(hours=10)).timestamp()})
    hops = 0
    while world.sender.deliver(waiting) is None:
        ((waiting, delay),) = world.queue.sent
        world.queue.sent.clear()
        assert world.receiver.posts == []
        hops += 1
        world.now += timedelta(seconds=delay)
    assert hops == 40  # 10 h of 15-minute hops, then the attempt
    assert len(world.receiver.posts) == 1


def test_a_message_queued_twice_is_attempted_once():
    world = World(CallbackAnswer(200))
    message = world.message()
    assert world.sender.deliver(message) is not None
    assert world.sender.deliver(message) is None
    assert len(world.receiver.posts) == 1


def test_the_last_failure_dead_letters_the_message_and_marks_the_execution():
    world = World(CallbackAnswer(None, error="ReadTimeoutError"))
    last = world.message().model_copy(update={"attempt": len(webhooks.RETRY_DELAYS) - 1})
    world.logs.logs[last.message_id] = DeliveryLog(
        execution_id="e-1",
        message_id=last.message_id,
        type=last.type,
        url=last.url,
        state=DeliveryState.PENDING,
        attempt_count=last.attempt,
        expires_at=last.expires_at,
    )
    log = world.sender.deliver(last)
    assert log is not None
    assert log.state is DeliveryState.FAILED
    assert world.queue.dead == [last]
    assert world.logs.failed == {"e-1": DeliveryState.FAILED}


def test_410_disables_without_dead_letter():
    world = World(CallbackAnswer(410))
    world.sender.deliver(world.message())
    assert world.logs.failed == {"e-1": DeliveryState.DISABLED}
    assert world.queue.dead == []
    assert world.queue.sent == []


@pytest.mark.parametrize(("addresses", "secrets"), [(["169.254.169.254"], True), (["93.184.216.34"], False)])
def test_an_address_refused_now_or_a_secret_gone_fails_the_message_at_once(
    addresses: list[str], secrets: bool
):
    world = World()
    world.receiver.addresses = addresses
    if not secrets:
        world.logs.secrets_of.clear()
    log = world.sender.deliver(world.message())
    assert log is not None
    assert log.state is DeliveryState.FAILED
    assert log.attempts[0].error
    assert world.receiver.posts == []


def test_a_disabled_callback_is_never_queued_again():
    queue = Queue()
    world = World()
    disabled = webhooks.Callback(
        url="https://hooks.example.com/", secret_owner="p_1", failed=DeliveryState.DISABLED
    )
    ended = record(status=ExecutionStatus.FAILED, callback=disabled)
    assert not EnqueueDelivery(queue, lambda: world.now).reported(ended)
    assert queue.sent == []
