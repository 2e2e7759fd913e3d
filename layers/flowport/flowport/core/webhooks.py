"""Completion webhooks: the rules, in the open Standard Webhooks format (https://www.standardwebhooks.com).

- A start names a callback URL; it must be https (http://127.0.0.1 only where a local setting allows
  it), on a host of the workflow's allowlist when it has one, and never an address inside a network:
  private, loopback, link-local, metadata and other non-global addresses are refused by name at start,
  and again after DNS resolution, at start and before every send (`allowed_address`).
- A delivery is signed as the spec says: `webhook-id` (the same for every attempt of one message),
  `webhook-timestamp` (this attempt's) and `webhook-signature`, `v1,<base64 HMAC-SHA256 of
  "id.timestamp.body">`, one per secret in use (two while a rotated secret's overlap lasts).
- It is tried on the spec's schedule, lengthened to about three days (`RETRY_DELAYS`), honouring
  Retry-After on 429 and 503; a 410 disables the callback; after the last attempt it has failed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field

from flowport.core.errors import CallbackRefused
from flowport.core.models import (
    Callback,
    CallbackEvent,
    DeliveryAttempt,
    DeliveryLog,
    DeliveryState,
    DeliveryView,
    ExecutionRecord,
    StoredModel,
)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64
SIGNATURE_VERSION = "v1"
# After a rotation the old secret keeps signing this long, so receivers can move to the new one.
ROTATION_OVERLAP = timedelta(hours=24)

MAX_URL_LENGTH = 2048
MAX_PAYLOAD_BYTES = 20_000
LOCAL_HTTP_HOST = "127.0.0.1"

# Seconds to wait before each attempt: the spec's (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h),
# with 10 h more until about three days have passed (67.6 h in all), as issue 17 asks.
RETRY_DELAYS: tuple[int, ...] = (0, 5, 300, 1800, 7200, 18000, *(36000,) * 6)
# A Retry-After longer than this is taken as this: a receiver cannot park a message for weeks.
MAX_RETRY_AFTER_SECONDS = 36000
# SQS delays a message 15 minutes at most: longer waits are chained hops of this.
MAX_HOP_SECONDS = 900

# Names that are a host's own, whatever DNS says of them.
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


# ---------------------------------------------------------------------------------------- secrets


def new_secret(random_bytes: Callable[[int], bytes] = os.urandom) -> str:
    return SECRET_PREFIX + base64.b64encode(random_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The key bytes of a `whsec_` secret; ValueError if it is not one of 24 to 64 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(f"a webhook secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes")
    return key


class WebhookSecrets(StoredModel):
    """A principal's signing secrets: the current one, and the one it replaced while their overlap lasts;
    and the hosts its callbacks may go to, when it has an allowlist of its own."""

    owner: str
    current: str = Field(repr=False)
    previous: str | None = Field(default=None, repr=False)
    previous_until: datetime | None = None
    callback_hosts: tuple[str, ...] = ()

    def signing(self, now: datetime) -> tuple[str, ...]:
        """The secrets that sign a message sent at `now`: the current one first."""
        overlapping = (
            self.previous is not None and self.previous_until is not None and now < self.previous_until
        )
        return (self.current, self.previous) if overlapping and self.previous else (self.current,)

    def rotated(self, new: str, now: datetime) -> WebhookSecrets:
        return self.model_copy(
            update={"current": new, "previous": self.current, "previous_until": now + ROTATION_OVERLAP}
        )


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers: one signature per secret, space-separated."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, message_id, timestamp, body) for s in secrets),
    }


# ---------------------------------------------------------------------------------------- messages


def message_id(execution_id: str, attempt: int, event: CallbackEvent) -> str:
    """The webhook-id of what one end (or start) of one attempt of an execution sends: derived from them,
    so however often the end is reported it is one message, and a receiver can drop a repeat."""
    digest = hashlib.sha256(f"{execution_id}.{attempt}.{event.value}".encode()).digest()
    return "msg_" + base64.b32encode(digest[:20]).decode().rstrip("=").lower()


def payload(
    event: CallbackEvent,
    timestamp: datetime,
    summary: dict[str, Any],
    outcome: dict[str, Any],
    links: dict[str, str],
    max_bytes: int = MAX_PAYLOAD_BYTES,
) -> bytes:
    """The body: `{type, timestamp, data: {...summary, output or error, links}}`, at most `max_bytes`. An
    output that does not fit is left out (`outputOmitted`): the status link serves it."""
    data = {**summary, **outcome, "links": links}
    body = _compact({"type": event.type, "timestamp": timestamp.isoformat(), "data": data})
    if len(body) <= max_bytes:
        return body
    data = {**summary, "outputOmitted": True, "links": links}
    return _compact({"type": event.type, "timestamp": timestamp.isoformat(), "data": data})


class DeliveryMessage(StoredModel):
    """What the delivery queue carries: one attempt of one message still to make. Its body is signed
    anew at each attempt (with that attempt's timestamp); the secret is read then, never queued."""

    execution_id: str
    message_id: str
    type: str
    url: str
    secret_owner: str
    body: str
    attempt: int = Field(default=0, ge=0, description="Which attempt this is: 0 the first")
    not_before: float = Field(description="Epoch seconds: before this, it waits (chained SQS delays)")
    expires_at: int = Field(description="When its delivery log may go (DynamoDB TTL)")

    def next(self, not_before: float) -> DeliveryMessage:
        return self.model_copy(update={"attempt": self.attempt + 1, "not_before": not_before})


# A delivery log outlives the schedule by this much, so the last attempts can still be read.
LOG_RETENTION_SECONDS = sum(RETRY_DELAYS) + 86400


def delivery_message(record: ExecutionRecord, callback: Callback, now: datetime) -> DeliveryMessage:
    """The first attempt of the message an execution's end (as `record` holds it) sends to `callback`."""
    event = CallbackEvent.of(record.status)
    links = {"self": f"{callback.links_base}/executions/{record.execution_id}"}
    links["deliveries"] = links["self"] + "/deliveries"
    summary = {
        "executionId": record.execution_id,
        "workflow": record.workflow,
        "version": record.version,
        "status": record.status.value,
        "correlationId": record.correlation_id,
        "createdAt": record.created_at.isoformat(),
        "startedAt": record.started_at.isoformat() if record.started_at else None,
        "completedAt": record.completed_at.isoformat() if record.completed_at else None,
        "redriveCount": record.redrive_count or None,
    }
    if record.output_in_step_functions:
        outcome: dict[str, Any] = {"outputOmitted": True}
    elif record.error is not None:
        outcome = {"error": record.error.model_dump(exclude_none=True)}
    else:
        outcome = {"output": record.output}
    body = payload(event, now, {k: v for k, v in summary.items() if v is not None}, outcome, links)
    return DeliveryMessage(
        execution_id=record.execution_id,
        message_id=message_id(record.execution_id, record.redrive_count, event),
        type=event.type,
        url=callback.url,
        secret_owner=callback.secret_owner,
        body=body.decode(),
        not_before=now.timestamp(),
        expires_at=max(record.expires_at, int(now.timestamp()) + LOG_RETENTION_SECONDS),
    )


def shown_url(url: str) -> str:
    """A callback URL as the delivery log shows it: without its query, which may hold a token."""
    return url.split("?", 1)[0]


def delivery_view(log: DeliveryLog) -> DeliveryView:
    return DeliveryView(
        message_id=log.message_id,
        type=log.type,
        url=log.url,
        state=log.state,
        attempts=log.attempts,
        next_attempt_at=log.next_attempt_at if log.state is DeliveryState.PENDING else None,
    )


def logged_attempt(
    message: DeliveryMessage,
    attempt: DeliveryAttempt,
    decision: Decision,
    next_attempt_at: datetime | None,
) -> DeliveryLog:
    """The delivery log after `attempt` (the attempt-th of the message) and what follows it."""
    state = {
        Verdict.DELIVERED: DeliveryState.DELIVERED,
        Verdict.RETRY: DeliveryState.PENDING,
        Verdict.FAILED: DeliveryState.FAILED,
        Verdict.DISABLED: DeliveryState.DISABLED,
    }[decision.verdict]
    return DeliveryLog(
        execution_id=message.execution_id,
        message_id=message.message_id,
        type=message.type,
        url=shown_url(message.url),
        state=state,
        attempt_count=message.attempt + 1,
        attempts=[attempt],
        next_attempt_at=next_attempt_at,
        expires_at=message.expires_at,
    )


def _compact(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str).encode()


# ---------------------------------------------------------------------------------------- schedule


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"  # the last attempt failed
    DISABLED = "disabled"  # the receiver answered 410 Gone


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    delay_seconds: float = 0.0  # before the next attempt, when RETRY


def decide(attempt: int, status: int | None, retry_after: str | None, now: datetime) -> Decision:
    """What follows attempt `attempt` (0 is the first) that got `status` (None: no answer in time, or no
    connection): 2xx is delivered, 410 disables, anything else is tried again on the schedule, no sooner
    than a 429's or 503's Retry-After asks, until the schedule ends."""
    if status is not None and 200 <= status < 300:
        return Decision(Verdict.DELIVERED)
    if status == 410:
        return Decision(Verdict.DISABLED)
    if attempt + 1 >= len(RETRY_DELAYS):
        return Decision(Verdict.FAILED)
    delay = float(RETRY_DELAYS[attempt + 1])
    if status in (429, 503) and retry_after is not None:
        delay = max(delay, retry_after_seconds(retry_after, now))
    return Decision(Verdict.RETRY, delay)


def retry_after_seconds(value: str, now: datetime) -> float:
    """A Retry-After (seconds, or an HTTP date) as seconds from `now`, within 0..MAX_RETRY_AFTER_SECONDS;
    0 for one that cannot be read."""
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            seconds = (parsedate_to_datetime(text) - now).total_seconds()
        except (TypeError, ValueError):
            return 0.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


def hop_seconds(remaining: float) -> int:
    """The SQS delay of the next hop towards a wait of `remaining` seconds: whole seconds, rounded up so
    that a message never comes early, 15 min at most (longer waits take several hops)."""
    return max(0, min(MAX_HOP_SECONDS, math.ceil(remaining)))


# ---------------------------------------------------------------------------------------- addresses


@dataclass(frozen=True)
class CallbackPolicy:
    """Where callbacks may go: `allowed_hosts` (a workflow's allowlist: names, or `*.example.com`; empty:
    any public host) and whether http://127.0.0.1 is allowed (local mode only)."""

    allowed_hosts: tuple[str, ...] = ()
    allow_local_http: bool = False


@dataclass(frozen=True)
class CallbackTarget:
    url: str
    scheme: str
    host: str  # lower case, without brackets
    port: int
    path: str  # with its query


def parse_callback_url(url: str, policy: CallbackPolicy) -> CallbackTarget:
    """The target of a callback URL, or CallbackRefused saying why it may not be called."""
    if len(url) > MAX_URL_LENGTH:
        raise CallbackRefused(f"callbackUrl is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise CallbackRefused("callbackUrl is not a URL") from None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise CallbackRefused("callbackUrl has no host")
    if parts.username is not None or parts.password is not None:
        raise CallbackRefused(
            "callbackUrl may not carry credentials: they would be sent in the clear to logs"
        )
    if parts.fragment:
        raise CallbackRefused("callbackUrl may not have a fragment")
    local = _local_http(policy, parts.scheme, host)
    if parts.scheme != "https" and not local:
        allowed = "https" + (f" (or http://{LOCAL_HTTP_HOST} locally)" if policy.allow_local_http else "")
        raise CallbackRefused(f"callbackUrl must be {allowed}")
    if not local:
        _refuse_local_name(host)
        literal = _ip_literal(host)
        if literal is not None:
            refuse_address(literal, host)
    if policy.allowed_hosts and not host_allowed(host, policy.allowed_hosts):
        raise CallbackRefused(f"callbackUrl's host {host} is not in the workflow's callbackHosts")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return CallbackTarget(url, parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path)


def _local_http(policy: CallbackPolicy, scheme: str, host: str) -> bool:
    """Whether this is the one local URL a local setting may allow: http://127.0.0.1."""
    return policy.allow_local_http and scheme == "http" and host == LOCAL_HTTP_HOST


def host_allowed(host: str, allowed_hosts: Iterable[str]) -> bool:
    for allowed in allowed_hosts:
        pattern = allowed.lower().rstrip(".")
        if pattern.startswith("*.") and host.endswith(pattern[1:]) and host != pattern[2:]:
            return True
        if host == pattern:
            return True
    return False


def _refuse_local_name(host: str) -> None:
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES):
        raise CallbackRefused(f"callbackUrl's host {host} names a local network")


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def refuse_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, host: str) -> None:
    """CallbackRefused unless `address` is a public unicast address (not private, loopback, link-local,
    a cloud metadata address, shared, reserved or multicast), IPv4 inside IPv6 judged as IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            address = embedded
    if not address.is_global or address.is_multicast:
        raise CallbackRefused(
            f"callbackUrl's host {host} is (or resolves to) {address}, not a public address"
        )


def allowed_address(target: CallbackTarget, addresses: Sequence[str], policy: CallbackPolicy) -> str:
    """The address to connect to, of those `target.host` resolved to: each of them must be public (an
    attacker's DNS can answer a public and a private one, and the connection may take either), or be
    127.0.0.1 for an allowed local http URL. CallbackRefused otherwise, or when it resolved to none."""
    if not addresses:
        raise CallbackRefused(f"callbackUrl's host {target.host} does not resolve")
    local = _local_http(policy, target.scheme, target.host)
    for address in addresses:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
        if not (local and str(parsed) == LOCAL_HTTP_HOST):
            refuse_address(parsed, target.host)
    return addresses[0]
