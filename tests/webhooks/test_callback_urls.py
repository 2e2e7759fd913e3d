"""Where a callback may go: refused with a 400 problem at start (private, loopback, link-local and
metadata addresses, local names, names resolving inside a network, hosts off the workflow's allowlist),
and checked again when it is sent (a name that resolved to a public address at start and to the metadata
address at send time is never connected to). DNS is the adapter's, replaced here: no test resolves a
real name."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flowport import services
from flowport.core.registry import Registry, load_registry
from flowport.local.cloud import LocalCloud

from tests.support import TICKET, Api, wait_until
from tests.webhooks.test_delivery import SAMPLE_PRINCIPAL, deliveries

PUBLIC = "93.184.216.34"


@pytest.fixture
def resolving(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, list[str]]], None]:
    """Make the callbacks' DNS answer these addresses for these names (and nothing for others)."""

    def answer(names: dict[str, list[str]]) -> None:
        monkeypatch.setattr(services.callback_transport(), "resolve", lambda host, _port: names.get(host, []))

    return answer


@pytest.fixture
def api_with_secret(cloud: LocalCloud) -> Api:
    services.rotate_webhook_secret().rotate(SAMPLE_PRINCIPAL)
    return Api(cloud.stack)


def refusal(api: Api, url: str, **query: str) -> tuple[int, str]:
    answer = api.start(body=TICKET, query={"callbackUrl": url, **query})
    return answer.status, answer.problem_code if answer.status >= 400 else ""


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://10.0.0.8/hook",
        "https://192.168.0.10/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "http://localhost:8080/hook",
        "https://metadata.google.internal/",
        "http://hooks.example.com/hook",
        "https://user:secret@hooks.example.com/hook",
    ],
)
def test_callbacks_into_a_network_or_not_https_are_refused_at_start(
    api_with_secret: Api, resolving: Callable[[dict[str, list[str]]], None], url: str
):
    resolving({"hooks.example.com": [PUBLIC]})
    assert refusal(api_with_secret, url) == (400, "callback_refused")


@pytest.mark.parametrize(
    "addresses", [["10.1.2.3"], [PUBLIC, "169.254.169.254"], ["::1"], ["fd00:ec2::254"], []]
)
def test_a_name_resolving_into_a_network_is_refused_at_start(
    api_with_secret: Api, resolving: Callable[[dict[str, list[str]]], None], addresses: list[str]
):
    resolving({"rebind.example.com": addresses})
    assert refusal(api_with_secret, "https://rebind.example.com/hook") == (400, "callback_refused")


def test_a_public_name_is_taken_and_kept_on_the_record(
    api_with_secret: Api, resolving: Callable[[dict[str, list[str]]], None]
):
    resolving({"hooks.example.com": [PUBLIC]})
    started = api_with_secret.start(
        body=TICKET, query={"callbackUrl": "https://hooks.example.com/in", "callbackEvents": "failed"}
    )
    assert started.status == 202, started.body
    record = services.execution_store().get(started.json()["executionId"], 0)
    assert record is not None
    assert record.callback is not None
    assert (record.callback.url, record.callback.events) == ("https://hooks.example.com/in", ("failed",))


def test_a_key_never_replays_a_start_whose_end_goes_elsewhere(
    api_with_secret: Api, resolving: Callable[[dict[str, list[str]]], None]
):
    resolving({"hooks.example.com": [PUBLIC], "other.example.com": [PUBLIC]})
    key = {"Idempotency-Key": "callback-key-1", "X-On-Conflict": "RETURN_EXISTING"}
    to_hooks = {"callbackUrl": "https://hooks.example.com/in", "callbackEvents": "failed"}
    first = api_with_secret.start(body=TICKET, query=to_hooks, headers=key)
    assert first.status == 202, first.body
    replay = api_with_secret.start(body=TICKET, query=to_hooks, headers=key)
    assert (replay.status, replay.json()["executionId"]) == (200, first.json()["executionId"])
    elsewhere = {**to_hooks, "callbackUrl": "https://other.example.com/in"}
    moved = api_with_secret.start(body=TICKET, query=elsewhere, headers=key)
    assert (moved.status, moved.problem_code) == (422, "idempotency_key_reused")
    other_events = api_with_secret.start(
        body=TICKET, query={**to_hooks, "callbackEvents": "completed"}, headers=key
    )
    assert (other_events.status, other_events.problem_code) == (422, "idempotency_key_reused")


def test_http_to_127_0_0_1_is_refused_with_the_aws_settings(
    api_with_secret: Api, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FLOWPORT_WEBHOOK_ALLOW_LOCAL_HTTP", "false")
    services.reset()
    assert refusal(api_with_secret, "http://127.0.0.1:9/hook") == (400, "callback_refused")


@pytest.mark.parametrize("events", ["done", "completed,bogus", ","])
def test_unknown_events_are_a_bad_parameter(api_with_secret: Api, events: str):
    assert refusal(api_with_secret, "http://127.0.0.1:9/", callbackEvents=events) == (
        400,
        "invalid_parameter",
    )


def test_a_principal_without_a_webhook_secret_is_told_how_to_get_one(cloud: LocalCloud):
    answer = Api(cloud.stack).start(body=TICKET, query={"callbackUrl": "http://127.0.0.1:9/"})
    assert (answer.status, answer.problem_code) == (400, "webhook_secret_missing")
    assert "/webhook-secret" in answer.json()["detail"]


@pytest.fixture
def allowlisted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """ticket-triage with an allowlist of *.partner.example."""
    original = load_registry(services.get_settings().workflows_path)
    workflow = original["ticket-triage"].model_copy(update={"callback_hosts": ("*.partner.example",)})
    registry = Registry({**dict(original), "ticket-triage": workflow}, tmp_path)
    monkeypatch.setattr(services, "registry", lambda: registry)
    services.reset()
    yield
    services.reset()


def test_a_workflow_s_allowlist_refuses_other_hosts(
    api_with_secret: Api, resolving: Callable[[dict[str, list[str]]], None], allowlisted: None
):
    resolving({"hooks.partner.example": [PUBLIC], "hooks.example.com": [PUBLIC]})
    assert refusal(api_with_secret, "https://hooks.example.com/") == (400, "callback_refused")
    assert (
        api_with_secret.start(body=TICKET, query={"callbackUrl": "https://hooks.partner.example/"}).status
        == 202
    )


def test_the_address_is_checked_again_when_sent(api_with_secret: Api, monkeypatch: pytest.MonkeyPatch):
    """DNS rebinding: public at start, the metadata address when the message is sent. The sender refuses
    it without connecting, and fails the message at once (no later attempt would be allowed either)."""
    answers = iter([[PUBLIC]])
    transport = services.callback_transport()
    monkeypatch.setattr(transport, "resolve", lambda _host, _port: next(answers, ["169.254.169.254"]))
    posted: list[str] = []
    monkeypatch.setattr(transport, "post", lambda *_: posted.append("posted"))
    started = api_with_secret.start(body=TICKET, query={"callbackUrl": "https://rebind.example.com/hook"})
    assert started.status == 202, started.body
    execution_id = started.json()["executionId"]

    def failed() -> dict[str, object] | None:
        items = deliveries(api_with_secret, execution_id)["items"]
        return items[0] if items and items[0]["state"] == "failed" else None

    message = wait_until(failed, timeout=30)
    (attempt,) = message["attempts"]  # type: ignore[misc]
    assert "169.254.169.254" in json.dumps(attempt)
    assert posted == []
