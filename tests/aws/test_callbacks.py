"""The HTTP adapter of callbacks (flowport.aws.callbacks) against a receiver on 127.0.0.1: it connects to
the address it is given, whatever the URL's name, sends the name as Host, follows no redirect, and a
receiver that does not answer in time is no answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flowport.aws.callbacks import HttpCallbacks
from flowport.core import webhooks
from flowport.core.errors import CallbackRefused
from flowport.core.webhooks import CallbackTarget

from tests.webhooks.receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(webhooks.new_secret()) as started:
        yield started


def _target(receiver: Receiver, path: str) -> CallbackTarget:
    port = int(receiver.url.rsplit(":", 1)[1])
    return CallbackTarget(
        f"http://hooks.example.invalid:{port}{path}", "http", "hooks.example.invalid", port, path
    )


def test_it_connects_to_the_checked_address_and_names_the_host(receiver: Receiver):
    answer = HttpCallbacks().post(_target(receiver, "/ok"), "127.0.0.1", {"webhook-id": "msg_1"}, b"{}", 5)
    assert answer.status == 200
    (delivery,) = receiver.deliveries
    assert delivery.headers["host"].startswith("hooks.example.invalid:")
    assert delivery.headers["webhook-id"] == "msg_1"
    assert delivery.headers["content-type"] == "application/json"


def test_a_redirect_is_an_answer_not_followed(receiver: Receiver):
    answer = HttpCallbacks().post(_target(receiver, "/redirect"), "127.0.0.1", {}, b"{}", 5)
    assert answer.status == 302
    assert len(receiver.deliveries) == 1


def test_retry_after_is_read(receiver: Receiver):
    answer = HttpCallbacks().post(_target(receiver, "/limited/120"), "127.0.0.1", {}, b"{}", 5)
    assert (answer.status, answer.retry_after) == (429, "120")


def test_a_receiver_too_slow_is_no_answer(receiver: Receiver):
    answer = HttpCallbacks().post(_target(receiver, "/slow/1"), "127.0.0.1", {}, b"{}", 0.2)
    assert answer.status is None
    assert answer.error


def test_nothing_listening_is_no_answer(receiver: Receiver):
    closed = _target(receiver, "/ok")
    answer = HttpCallbacks().post(
        CallbackTarget(closed.url, "http", closed.host, 9, "/"), "127.0.0.1", {}, b"{}", 1
    )
    assert answer.status is None


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1"])
def test_numeric_spellings_of_loopback_resolve_to_it_and_so_are_refused(host: str):
    """Not IP literals to the ipaddress module, but the resolver (inet_aton's forms, no DNS asked) reads
    them as 127.0.0.1: the check after resolution is what refuses them."""
    target = webhooks.parse_callback_url(f"https://{host}/hook", webhooks.CallbackPolicy())
    addresses = HttpCallbacks().resolve(target.host, target.port)
    assert addresses == ["127.0.0.1"]
    with pytest.raises(CallbackRefused):
        webhooks.allowed_address(target, addresses, webhooks.CallbackPolicy())
