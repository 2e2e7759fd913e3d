"""Use cases of completion webhooks (rules: flowport.core.webhooks): a start's callback checked, an end
queued for delivery, one attempt delivered, the attempts listed, a principal's secret rotated."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from flowport.core import webhooks
from flowport.core.clock import Clock, utcnow
from flowport.core.errors import CallbackRefused, WebhookSecretMissing, execution_not_found
from flowport.core.identity import Action, Caller
from flowport.core.models import (
    TERMINAL_EVENTS,
    Callback,
    CallbackEvent,
    DeliveryAttempt,
    DeliveryList,
    DeliveryLog,
    DeliveryState,
    ExecutionRecord,
)
from flowport.core.ports import (
    CallbackAnswer,
    CallbackHostsLookup,
    CallbackTransport,
    DeliveryLogs,
    DeliveryQueue,
    ExecutionStore,
    WebhookSecretStore,
)
from flowport.core.registry import Workflow
from flowport.core.webhooks import CallbackPolicy, Decision, DeliveryMessage, Verdict, WebhookSecrets
from flowport.settings import Settings


class CallbackCheck:
    """A start's callback: the one it names, else its workflow's default, checked before anything runs."""

    def __init__(
        self, principals: CallbackHostsLookup, transport: CallbackTransport, settings: Settings
    ) -> None:
        self._principals = principals
        self._transport = transport
        self._allow_local_http = settings.webhook_allow_local_http

    def callback_for(
        self,
        workflow: Workflow,
        caller: Caller,
        url: str | None,
        events: Sequence[CallbackEvent] | None,
        links_base: str,
    ) -> Callback | None:
        if url is None:
            # A public start has no principal to sign for it: the workflow's default is not its.
            if workflow.callback is None or caller.anonymous:
                return None
            url, events = workflow.callback.url, events or workflow.callback.events
        elif caller.anonymous:
            raise CallbackRefused(
                "A start without credentials cannot name a callback: deliveries are signed with the "
                "starting principal's webhook secret"
            )
        principal_hosts = self._principals.callback_hosts(caller.principal_id)
        if principal_hosts is None:
            raise WebhookSecretMissing(
                f"Principal {caller.principal_id} has no webhook secret to sign callbacks with: an admin "
                f"creates one with POST /admin/principals/{caller.principal_id}/webhook-secret"
            )
        policy = CallbackPolicy(workflow.callback_hosts, self._allow_local_http)
        target = webhooks.parse_callback_url(url, policy)
        if principal_hosts and not webhooks.host_allowed(target.host, principal_hosts):
            raise CallbackRefused(f"callbackUrl's host {target.host} is not in the principal's callbackHosts")
        webhooks.allowed_address(target, self._transport.resolve(target.host, target.port), policy)
        return Callback(
            url=url,
            events=tuple(events or TERMINAL_EVENTS),
            secret_owner=caller.principal_id,
            links_base=links_base,
        )


class EnqueueDelivery:
    """A status of an execution queued for its callback: its ends and start as the sync function (and the
    reconciler) records them, its joining the queue as the start that finds every slot taken sees it."""

    def __init__(self, queue: DeliveryQueue | None, clock: Clock = utcnow) -> None:
        self._queue = queue
        self._clock = clock

    def reported(self, record: ExecutionRecord) -> bool:
        """Queue the message `record`'s status sends, if its callback wants it; False when none is due.
        Called for every report of an end, repeats included: the message id is the end's, and the sender
        delivers each message id once (DeliverCallback), so a repeat costs a queued message, never a
        second delivery, and an end recorded by a call that died before queuing is still delivered."""
        callback = record.callback
        if self._queue is None or callback is None or callback.failed is DeliveryState.DISABLED:
            return False
        if not callback.wants(record.status):
            return False
        self._queue.send(webhooks.delivery_message(record, callback, self._clock()), delay_seconds=0)
        return True


class DeliverCallback:
    """One attempt of one message: signed, posted to the address checked again now, logged; the next
    attempt queued after the schedule's wait (in hops of SQS delays), or the message dead-lettered."""

    def __init__(
        self,
        logs: DeliveryLogs,
        queue: DeliveryQueue,
        transport: CallbackTransport,
        settings: Settings,
        clock: Clock = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        wait: Callable[[float], None] = time.sleep,
    ) -> None:
        self._logs = logs
        self._queue = queue
        self._transport = transport
        self._settings = settings
        self._clock = clock
        self._monotonic = monotonic
        self._wait = wait

    def deliver(self, message: DeliveryMessage) -> DeliveryLog | None:
        """The log of the attempt made; None when no attempt was due (it waits another hop, or it is a
        repeat of a message another delivery made or is making)."""
        remaining = message.not_before - self._clock().timestamp()
        if remaining >= 1:
            self._queue.send(message, webhooks.hop_seconds(remaining))
            return None
        if remaining > 0:  # only a compressed clock makes waits shorter than SQS's one-second grain
            self._wait(remaining)
        log, secrets = self._logs.pending(message.execution_id, message.message_id, message.secret_owner)
        if log is not None and (
            log.attempt_count != message.attempt or log.state is not DeliveryState.PENDING
        ):
            return None
        now = self._clock()
        started = self._monotonic()
        try:
            answer = self._attempt(message, secrets)
            decision = webhooks.decide(message.attempt, answer.status, answer.retry_after, now)
        except _Undeliverable as undeliverable:
            # No later attempt would fare better: it fails now, rather than in three days.
            answer, decision = CallbackAnswer(None, error=str(undeliverable)), Decision(Verdict.FAILED)
        latency_ms = int((self._monotonic() - started) * 1000)
        delay = decision.delay_seconds * self._settings.webhook_clock_scale
        next_at = now + timedelta(seconds=delay) if decision.verdict is Verdict.RETRY else None
        attempt = DeliveryAttempt(
            at=now, response_status=answer.status, latency_ms=latency_ms, error=answer.error
        )
        logged = webhooks.logged_attempt(message, attempt, decision, next_at)
        if not self._logs.record(logged):
            return None  # another delivery of the same queued message recorded this attempt
        if next_at is not None:
            self._queue.send(message.next(next_at.timestamp()), webhooks.hop_seconds(delay))
        elif decision.verdict is Verdict.FAILED:
            self._queue.dead_letter(message)
            self._logs.mark_failed(message.execution_id, DeliveryState.FAILED)
        elif decision.verdict is Verdict.DISABLED:
            self._logs.mark_failed(message.execution_id, DeliveryState.DISABLED)
        return logged

    def _attempt(self, message: DeliveryMessage, secrets: WebhookSecrets | None) -> CallbackAnswer:
        policy = CallbackPolicy(allow_local_http=self._settings.webhook_allow_local_http)
        try:
            target = webhooks.parse_callback_url(message.url, policy)
            address = webhooks.allowed_address(
                target, self._transport.resolve(target.host, target.port), policy
            )
        except CallbackRefused as refused:
            raise _Undeliverable(f"refused at send time: {refused.detail}") from None
        if secrets is None:
            raise _Undeliverable("the principal's webhook secret is gone")
        now = self._clock()
        body = message.body.encode()
        headers = webhooks.signed_headers(
            secrets.signing(now), message.message_id, int(now.timestamp()), body
        )
        return self._transport.post(target, address, headers, body, self._settings.webhook_timeout_seconds)


class _Undeliverable(Exception):
    """Why a message cannot be sent at all: its address is refused now, or its secret is gone."""


class ListDeliveries:
    def __init__(self, store: ExecutionStore, logs: DeliveryLogs, clock: Clock = utcnow) -> None:
        self._store = store
        self._logs = logs
        self._clock = clock

    def deliveries(self, execution_id: str, caller: Caller) -> DeliveryList:
        record = self._store.get(execution_id, self._clock().timestamp())
        if record is None or not caller.may_see(Action.READ, record.workflow, record.started_by):
            raise execution_not_found(execution_id)
        views = [webhooks.delivery_view(log) for log in self._logs.logs(execution_id)]
        return DeliveryList(execution_id=execution_id, items=views)


class RotateWebhookSecret:
    """A principal's new signing secret, shown once; the one it replaces signs too for a day. And the
    principal's own allowlist of callback hosts, kept with its secrets (a start reads both at once)."""

    def __init__(
        self,
        secrets: WebhookSecretStore,
        clock: Clock = utcnow,
        new_secret: Callable[[], str] = webhooks.new_secret,
    ) -> None:
        self._secrets = secrets
        self._clock = clock
        self._new_secret = new_secret

    def rotate(self, principal_id: str) -> str:
        secret = self._new_secret()
        existing = self._secrets.secrets(principal_id)
        if existing is None:
            self._secrets.save(WebhookSecrets(owner=principal_id, current=secret))
        else:
            self._secrets.save(existing.rotated(secret, self._clock()))
        return secret

    def set_callback_hosts(self, principal_id: str, hosts: Sequence[str]) -> tuple[str, ...]:
        """Replace the principal's allowlist (empty: none, any public host); WebhookSecretMissing before
        its first secret."""
        existing = self._secrets.secrets(principal_id)
        if existing is None:
            raise WebhookSecretMissing(
                f"Principal {principal_id} has no webhook secret yet: POST .../webhook-secret first"
            )
        allowed = tuple(dict.fromkeys(host.lower() for host in hosts))
        self._secrets.save(existing.model_copy(update={"callback_hosts": allowed}))
        return allowed
