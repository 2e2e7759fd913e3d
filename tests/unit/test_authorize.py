"""The authorizer's decision (flowport.usecases.authorize) over an in-memory credential lookup."""

from __future__ import annotations

from pathlib import Path

import pytest
from flowport.core import credentials
from flowport.core.errors import Unauthorized
from flowport.core.identity import Action, AuthMode, Scopes, StoredCredential
from flowport.core.registry import Registry, Workflow
from flowport.usecases.authorize import MAX_CACHED_CALLERS, Authorize, AuthRequest

from tests.support import basic

TTL = 300.0
KEY_ID, SECRET = credentials.new_api_key()
SCOPES = Scopes(workflows=("ticket-triage",), actions=(Action.START, Action.READ))
PASSWORD = "correct horse battery staple"
REGISTRY = Registry(
    {
        "ticket-triage": Workflow.model_validate({"name": "ticket-triage", "versions": [1]}),
        "open-door": Workflow.model_validate({"name": "open-door", "versions": [1], "auth": "none"}),
        "by-hand": Workflow.model_validate({"name": "by-hand", "versions": [1], "auth": ["basic"]}),
    },
    Path("."),
)


class Lookup:
    """One API key and one user, and every read counted (each stands for one GetItem)."""

    def __init__(self) -> None:
        self.reads: list[str] = []
        self.keys = {
            credentials.key_hash(SECRET): StoredCredential(
                principal_id="p_ci000000000000000000",
                principal_name="ci",
                scopes=SCOPES,
                mode=AuthMode.API_KEY,
                key_id=KEY_ID,
            )
        }
        self.users = {
            "ops": StoredCredential(
                principal_id="p_ops00000000000000000",
                principal_name="ops",
                scopes=SCOPES,
                mode=AuthMode.BASIC,
                password_hash=credentials.hash_password(PASSWORD),
            )
        }

    def api_key(self, key_hash: str) -> StoredCredential | None:
        self.reads.append("api_key")
        return self.keys.get(key_hash)

    def user(self, username: str) -> StoredCredential | None:
        self.reads.append("user")
        return self.users.get(username)


class Clocks:
    def __init__(self) -> None:
        self.monotonic = 1000.0
        self.wall = 1_800_000_000.0


@pytest.fixture
def lookup() -> Lookup:
    return Lookup()


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def authorize(lookup: Lookup, clocks: Clocks) -> Authorize:
    return Authorize(
        lookup, REGISTRY, TTL, monotonic=lambda: clocks.monotonic, wall_clock=lambda: clocks.wall
    )


def request(
    headers: dict[str, str], resource: str = "/executions/{executionId}", name: str = ""
) -> AuthRequest:
    return AuthRequest(headers, resource, {"name": name} if name else {"executionId": "e"})


def test_a_key_is_one_read_then_cached_for_the_ttl(authorize: Authorize, lookup: Lookup, clocks: Clocks):
    decision = authorize.decide(request({"X-API-Key": SECRET}))
    assert decision.caller.principal_id == "p_ci000000000000000000"
    for _ in range(5):
        authorize.decide(request({"Authorization": f"Bearer {SECRET}"}))  # the same key, another header
    assert lookup.reads == ["api_key"]
    clocks.monotonic += TTL + 1
    authorize.decide(request({"X-API-Key": SECRET}))
    assert lookup.reads == ["api_key", "api_key"]


def test_a_revoked_key_works_until_the_cache_forgets_it(authorize: Authorize, lookup: Lookup, clocks: Clocks):
    authorize.decide(request({"X-API-Key": SECRET}))
    lookup.keys.clear()  # revoked
    clocks.monotonic += TTL - 1
    assert authorize.decide(request({"X-API-Key": SECRET})).caller.principal_id == "p_ci000000000000000000"
    clocks.monotonic += 2
    with pytest.raises(Unauthorized):
        authorize.decide(request({"X-API-Key": SECRET}))


def test_an_expired_key_is_refused(authorize: Authorize, lookup: Lookup, clocks: Clocks):
    (key_hash,) = lookup.keys
    lookup.keys[key_hash] = lookup.keys[key_hash].model_copy(update={"expires_at": int(clocks.wall)})
    with pytest.raises(Unauthorized):
        authorize.decide(request({"X-API-Key": SECRET}))


def test_a_wrong_key_and_a_near_miss_take_the_same_path(authorize: Authorize, lookup: Lookup):
    """One lookup by the hash of the whole key either way: nothing tells a key of ours with a wrong
    secret from any other wrong key."""
    near_miss = SECRET[:-1] + ("A" if SECRET[-1] != "A" else "B")
    for wrong in (near_miss, credentials.new_api_key()[1], "fpk_" + "x" * 43):
        lookup.reads.clear()
        with pytest.raises(Unauthorized) as refused:
            authorize.decide(request({"X-API-Key": wrong}))
        assert lookup.reads == ["api_key"]
        assert refused.value.detail == "The credentials are not valid (unknown, expired or revoked)"
    lookup.reads.clear()
    with pytest.raises(Unauthorized):  # not of our keys' form: refused without a read
        authorize.decide(request({"X-API-Key": "sk_live_not_ours"}))
    assert lookup.reads == []


def test_a_password_costs_one_read_and_an_unknown_user_one_scrypt_too(
    authorize: Authorize, lookup: Lookup, monkeypatch: pytest.MonkeyPatch
):
    runs: list[int] = []
    scrypt = credentials._scrypt
    monkeypatch.setattr(credentials, "_scrypt", lambda *args: runs.append(1) or scrypt(*args))
    assert authorize.decide(request({"Authorization": basic("ops", PASSWORD)})).caller.mode is AuthMode.BASIC
    for user, password in (("ops", "wrong password"), ("nobody", PASSWORD)):
        with pytest.raises(Unauthorized) as refused:
            authorize.decide(request({"Authorization": basic(user, password)}))
        assert refused.value.detail == "The credentials are not valid (unknown, expired or revoked)"
    assert lookup.reads == ["user", "user", "user"]
    assert len(runs) == 3  # the unknown user ran scrypt as a known one does
    authorize.decide(request({"user": "ops", "password": PASSWORD}))  # seed 002's headers: cached now
    assert len(runs) == 3


def test_no_credentials_start_only_a_public_workflow(authorize: Authorize, lookup: Lookup):
    start = "/workflows/{name}/executions"
    public = authorize.decide(request({}, start, "open-door"))
    assert public.caller.anonymous
    assert set(public.policy.allow) == {
        ("POST", "/workflows/open-door/executions"),
        ("GET", "/workflows/open-door/start"),
    }
    for resource, name in ((start, "ticket-triage"), ("/executions", "")):
        with pytest.raises(Unauthorized):
            authorize.decide(request({}, resource, name))
    assert lookup.reads == []


def test_a_workflow_refuses_a_kind_of_credential_it_does_not_take(authorize: Authorize):
    with pytest.raises(Unauthorized) as refused:
        authorize.decide(request({"X-API-Key": SECRET}, "/workflows/{name}/executions", "by-hand"))
    assert refused.value.headers["WWW-Authenticate"] == 'Basic realm="flowport", charset="UTF-8"'


def test_the_cache_stays_bounded_forgetting_the_least_recently_used(authorize: Authorize, lookup: Lookup):
    credential = lookup.keys[credentials.key_hash(SECRET)]
    secrets = [credentials.new_api_key()[1] for _ in range(MAX_CACHED_CALLERS + 1)]
    for secret in secrets:
        lookup.keys[credentials.key_hash(secret)] = credential
        authorize.decide(request({"X-API-Key": secret}))
    lookup.reads.clear()
    authorize.decide(request({"X-API-Key": secrets[-1]}))  # still cached
    assert lookup.reads == []
    authorize.decide(request({"X-API-Key": secrets[0]}))  # the oldest, forgotten
    assert lookup.reads == ["api_key"]
