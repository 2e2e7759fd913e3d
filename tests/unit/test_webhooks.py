"""The webhook rules (flowport.core.webhooks): signatures checked with the `standardwebhooks` package, not
with flowport's own code; the schedule, Retry-After, 410; message ids; payloads; callback URLs."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from flowport.core import webhooks
from flowport.core.errors import CallbackRefused, WebhookSecretMissing
from flowport.core.identity import ANONYMOUS, AuthMode
from flowport.core.models import TERMINAL_EVENTS, Callback, CallbackEvent, ExecutionStatus
from flowport.core.ports import CallbackAnswer
from flowport.core.registry import Workflow
from flowport.core.webhooks import CallbackPolicy, Decision, Verdict
from flowport.usecases.webhooks import CallbackCheck
from standardwebhooks import Webhook, WebhookVerificationError

from tests.support import ADMIN, caller, settings_for_tests

# The rules' own clock, which the tests control.
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def signed_now() -> int:
    """The library checks a signature's timestamp against its own clock (5 minutes either way), so what it
    verifies is signed with the wall clock, read at the test's run: a module-level one would be stale when
    the test runs minutes after collection."""
    return int(datetime.now(UTC).timestamp())


BODY = b'{"type":"execution.completed","data":{}}'


def _secret(fill: int, size: int = webhooks.SECRET_BYTES) -> str:
    return "whsec_" + base64.b64encode(bytes([fill]) * size).decode()


def test_a_delivery_signed_with_the_current_secret_verifies_with_standardwebhooks():
    secret = webhooks.new_secret()
    headers = webhooks.signed_headers([secret], "msg_1", signed_now(), BODY)
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)
    assert headers["webhook-signature"].startswith("v1,")


def test_a_tampered_body_or_another_secret_does_not_verify():
    secret = _secret(1)
    headers = webhooks.signed_headers([secret], "msg_1", signed_now(), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(_secret(2)).verify(BODY, headers)


def test_during_a_rotation_both_secrets_sign_and_either_verifies():
    old, new = _secret(1), _secret(2)
    secrets = webhooks.WebhookSecrets(owner="p", current=old).rotated(new, NOW)
    signing = secrets.signing(NOW)
    assert signing == (new, old)
    headers = webhooks.signed_headers(signing, "msg_1", signed_now(), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(BODY, headers)
    assert secrets.signing(NOW + webhooks.ROTATION_OVERLAP) == (new,)


def test_a_stale_timestamp_is_refused_by_the_receiver():
    """Each attempt is signed with its own timestamp: a retry hours later must not carry the first one's."""
    secret = _secret(1)
    stale = signed_now() - 6 * 60
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, webhooks.signed_headers([secret], "msg_1", stale, BODY))


@pytest.mark.parametrize("size", [24, 64])
def test_secrets_hold_24_to_64_bytes(size: int):
    assert len(webhooks.secret_key(_secret(7, size))) == size


@pytest.mark.parametrize(
    "secret",
    ["abc", "whsec_" + base64.b64encode(b"x" * 23).decode(), "whsec_" + base64.b64encode(b"x" * 65).decode()],
)
def test_other_secrets_are_refused(secret: str):
    with pytest.raises(ValueError, match="webhook secret"):
        webhooks.secret_key(secret)


def test_new_secrets_are_random_and_of_the_spec_s_form():
    first, second = webhooks.new_secret(), webhooks.new_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(webhooks.secret_key(first)) == webhooks.SECRET_BYTES


def test_the_secrets_never_show_in_their_repr():
    secrets = webhooks.WebhookSecrets(owner="p", current=_secret(1)).rotated(_secret(2), NOW)
    assert "whsec_" not in repr(secrets)


# ---------------------------------------------------------------------------------------- schedule


def test_the_schedule_is_the_spec_s_then_10_hours_to_about_three_days():
    delays = webhooks.RETRY_DELAYS
    assert delays[:8] == (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
    assert set(delays[6:]) == {36000}
    assert 2.5 * 86400 < sum(delays) < 3 * 86400


def test_each_failure_but_the_last_is_retried_on_the_schedule():
    attempts = len(webhooks.RETRY_DELAYS)
    for attempt in range(attempts - 1):
        decision = webhooks.decide(attempt, 500, None, NOW)
        assert decision == Decision(Verdict.RETRY, webhooks.RETRY_DELAYS[attempt + 1])
    assert webhooks.decide(attempts - 1, 500, None, NOW).verdict is Verdict.FAILED


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_is_delivered(status: int):
    assert webhooks.decide(0, status, None, NOW).verdict is Verdict.DELIVERED


@pytest.mark.parametrize("status", [None, 301, 302, 400, 404, 500, 502])
def test_no_answer_a_redirect_or_an_error_is_retried(status: int | None):
    assert webhooks.decide(0, status, None, NOW).verdict is Verdict.RETRY


def test_410_disables_the_callback_at_once():
    assert webhooks.decide(0, 410, None, NOW).verdict is Verdict.DISABLED


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_or_as_a_date_delays_the_next_attempt(status: int):
    assert webhooks.decide(0, status, "120", NOW).delay_seconds == 120
    date = (NOW + timedelta(seconds=600)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert webhooks.decide(0, status, date, NOW).delay_seconds == 600


def test_retry_after_never_shortens_the_schedule_nor_parks_a_message_forever():
    assert webhooks.decide(2, 429, "1", NOW).delay_seconds == webhooks.RETRY_DELAYS[3]
    assert webhooks.decide(0, 429, "9999999", NOW).delay_seconds == webhooks.MAX_RETRY_AFTER_SECONDS
    assert webhooks.decide(0, 429, "soon", NOW).delay_seconds == webhooks.RETRY_DELAYS[1]
    assert webhooks.decide(0, 500, "120", NOW).delay_seconds == webhooks.RETRY_DELAYS[1]


@pytest.mark.parametrize(("remaining", "hop"), [(-3, 0), (0.4, 1), (5, 5), (900, 900), (36000, 900)])
def test_long_waits_are_chained_sqs_hops_of_15_minutes_at_most(remaining: float, hop: int):
    assert webhooks.hop_seconds(remaining) == hop


# ---------------------------------------------------------------------------------------- messages


def test_one_end_of_one_attempt_is_one_message_id():
    first = webhooks.message_id("e-1", 0, CallbackEvent.COMPLETED)
    assert first == webhooks.message_id("e-1", 0, CallbackEvent.COMPLETED)
    others = {
        webhooks.message_id("e-2", 0, CallbackEvent.COMPLETED),
        webhooks.message_id("e-1", 1, CallbackEvent.COMPLETED),
        webhooks.message_id("e-1", 0, CallbackEvent.FAILED),
    }
    assert first not in others
    assert len(others) == 3
    assert first.startswith("msg_")


def test_each_status_has_its_event_and_type():
    assert CallbackEvent.of(ExecutionStatus.TIMED_OUT).type == "execution.timed_out"
    assert {event.type for event in TERMINAL_EVENTS} == {
        "execution.completed",
        "execution.failed",
        "execution.timed_out",
        "execution.cancelled",
    }


def test_the_payload_holds_the_summary_the_outcome_and_the_links():
    body = webhooks.payload(
        CallbackEvent.COMPLETED, NOW, {"executionId": "e-1"}, {"output": {"ok": True}}, {"self": "/x"}
    )
    document = json.loads(body)
    assert document == {
        "type": "execution.completed",
        "timestamp": NOW.isoformat(),
        "data": {"executionId": "e-1", "output": {"ok": True}, "links": {"self": "/x"}},
    }


def test_an_output_too_large_goes_by_link_only():
    big = {"text": "x" * webhooks.MAX_PAYLOAD_BYTES}
    body = webhooks.payload(
        CallbackEvent.COMPLETED, NOW, {"executionId": "e-1"}, {"output": big}, {"self": "/x"}
    )
    assert len(body) <= webhooks.MAX_PAYLOAD_BYTES
    assert json.loads(body)["data"] == {"executionId": "e-1", "outputOmitted": True, "links": {"self": "/x"}}


# ---------------------------------------------------------------------------------------- addresses

AWS = CallbackPolicy()
LOCAL = CallbackPolicy(allow_local_http=True)


def test_a_public_https_url_is_a_target():
    target = webhooks.parse_callback_url("https://Hooks.Example.com:8443/in?x=1", AWS)
    assert (target.host, target.port, target.path) == ("hooks.example.com", 8443, "/in?x=1")


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/in",
        "ftp://hooks.example.com/in",
        "https://user:pw@hooks.example.com/in",
        "https://hooks.example.com/in#part",
        "https:///in",
        "not a url",
        "https://hooks.example.com:99999/",
        "https://localhost/in",
        "https://api.localhost/in",
        "https://printer.local/in",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://127.0.0.1/in",
        "https://10.0.0.8/in",
        "https://172.16.5.4/in",
        "https://192.168.1.1/in",
        "https://169.254.169.254/latest/meta-data/",
        "https://100.100.100.200/",
        "https://0.0.0.0/",
        "https://[::1]/in",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://[fe80::1]/in",
        "https://[::ffff:169.254.169.254]/",
        "https://224.0.0.1/",
        "http://127.0.0.1:8080/in",
        "https://" + "a" * 2050 + ".com/",
    ],
)
def test_urls_that_are_not_https_to_a_public_host_are_refused(url: str):
    with pytest.raises(CallbackRefused):
        webhooks.parse_callback_url(url, AWS)


def test_local_mode_may_allow_http_to_127_0_0_1_and_nothing_else_local():
    assert webhooks.parse_callback_url("http://127.0.0.1:8080/in", LOCAL).port == 8080
    for url in ("http://localhost:8080/in", "http://10.0.0.8/in", "http://hooks.example.com/"):
        with pytest.raises(CallbackRefused):
            webhooks.parse_callback_url(url, LOCAL)


def test_an_allowlist_admits_its_hosts_and_subdomains_of_its_wildcards_only():
    policy = CallbackPolicy(allowed_hosts=("hooks.example.com", "*.partner.example"))
    for url in ("https://hooks.example.com/", "https://a.partner.example/", "https://b.a.partner.example/"):
        webhooks.parse_callback_url(url, policy)
    for url in ("https://example.com/", "https://partner.example/", "https://evilpartner.example/"):
        with pytest.raises(CallbackRefused, match="callbackHosts"):
            webhooks.parse_callback_url(url, policy)


@pytest.mark.parametrize(
    "addresses",
    [
        ["10.1.2.3"],
        ["93.184.216.34", "169.254.169.254"],
        ["127.0.0.1"],
        ["::1"],
        ["fd00:ec2::254"],
        ["::ffff:10.0.0.1"],
        ["fe80::1%eth0"],
        [],
    ],
)
def test_a_name_resolving_to_any_non_public_address_is_refused(addresses: list[str]):
    target = webhooks.parse_callback_url("https://rebind.example.com/", AWS)
    with pytest.raises(CallbackRefused):
        webhooks.allowed_address(target, addresses, AWS)


def test_a_name_resolving_to_public_addresses_is_connected_to_at_the_first():
    target = webhooks.parse_callback_url("https://hooks.example.com/", AWS)
    assert webhooks.allowed_address(target, ["93.184.216.34", "2606:2800:220:1::1"], AWS) == "93.184.216.34"


def test_the_local_http_url_connects_to_127_0_0_1():
    target = webhooks.parse_callback_url("http://127.0.0.1:9/", LOCAL)
    assert webhooks.allowed_address(target, ["127.0.0.1"], LOCAL) == "127.0.0.1"


def test_a_callback_wants_the_terminal_events_unless_it_names_others():
    callback = Callback(url="https://hooks.example.com/", secret_owner="p")
    assert callback.wants(ExecutionStatus.CANCELLED)
    assert not callback.wants(ExecutionStatus.RUNNING)
    only_failures = callback.model_copy(update={"events": (CallbackEvent.FAILED,)})
    assert not only_failures.wants(ExecutionStatus.COMPLETED)


# ---------------------------------------------------------------------------------------- at start


class _CallbackHosts:
    def __init__(self, *owners: str, hosts: tuple[str, ...] = ()) -> None:
        self._owners = owners
        self._hosts = hosts

    def callback_hosts(self, owner: str) -> tuple[str, ...] | None:
        return self._hosts if owner in self._owners else None


class _Dns:
    def resolve(self, host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    def post(self, *arguments: object) -> CallbackAnswer:
        raise AssertionError("a start never posts")


DEFAULTED = Workflow.model_validate(
    {"name": "w", "versions": [1], "callback": {"url": "https://hooks.example.com/", "events": ["failed"]}}
)


def _check(*owners: str) -> CallbackCheck:
    return CallbackCheck(_CallbackHosts(*owners), _Dns(), settings_for_tests())


def test_a_start_without_a_callback_takes_its_workflow_s_default():
    callback = _check(ADMIN.principal_id).callback_for(DEFAULTED, ADMIN, None, None, "https://api")
    assert callback is not None
    assert (callback.url, callback.events, callback.secret_owner) == (
        "https://hooks.example.com/",
        (CallbackEvent.FAILED,),
        ADMIN.principal_id,
    )


def test_a_public_start_has_no_default_callback_and_may_not_name_one():
    public = caller(ANONYMOUS, mode=AuthMode.NONE)
    assert _check(ANONYMOUS).callback_for(DEFAULTED, public, None, None, "") is None
    with pytest.raises(CallbackRefused, match="without credentials"):
        _check(ANONYMOUS).callback_for(DEFAULTED, public, "https://hooks.example.com/", None, "")


def test_a_callback_needs_its_principal_s_secret():
    with pytest.raises(WebhookSecretMissing):
        _check().callback_for(DEFAULTED, ADMIN, "https://hooks.example.com/", None, "")


def test_a_principal_s_allowlist_applies_besides_the_workflow_s():
    check = CallbackCheck(
        _CallbackHosts(ADMIN.principal_id, hosts=("*.partner.example",)), _Dns(), settings_for_tests()
    )
    assert check.callback_for(DEFAULTED, ADMIN, "https://a.partner.example/", None, "") is not None
    with pytest.raises(CallbackRefused, match="principal's callbackHosts"):
        check.callback_for(DEFAULTED, ADMIN, "https://hooks.example.com/", None, "")
