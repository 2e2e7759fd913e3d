"""The principal store against moto, on the table template.yaml declares: its items, and its races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

import boto3
import pytest
from flowport.aws.deliveries import SECRETS_LEADING_KEY
from flowport.aws.principals import LEADING_KEYS, PrincipalStore
from flowport.core.errors import KeyLimitReached, PrincipalNotFound, ServiceUnavailable, UsernameTaken
from flowport.core.identity import AuthMode, Scopes, StoredCredential
from flowport.core.principals import KeyInfo, Principal
from flowport.local.cloud import LocalCloud

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SCOPES = Scopes(workflows=("ticket-triage",), actions=("read", "start"))  # type: ignore[arg-type]
RACES = 8


@pytest.fixture
def client(cloud: LocalCloud) -> Any:
    return boto3.client("dynamodb")


@pytest.fixture
def store(cloud: LocalCloud, client: Any) -> PrincipalStore:
    (table,) = cloud.stack.tables.values()
    return PrincipalStore(client, table.name)


def principal(number: int) -> Principal:
    return Principal(principal_id=f"p_{number:020d}", name=f"caller {number}", scopes=SCOPES, created_at=NOW)


def credential(owner: Principal, mode: AuthMode = AuthMode.API_KEY, **changes: Any) -> StoredCredential:
    return StoredCredential(
        principal_id=owner.principal_id, principal_name=owner.name, scopes=owner.scopes, mode=mode, **changes
    )


def add_key(store: PrincipalStore, owner: Principal, number: int, expires_in_days: int | None = None) -> str:
    """Key number `number` of `owner`; its hash is returned (as the authorizer would look it up)."""
    key_id, key_hash = f"key_{number:016x}", f"{number:064x}"
    expires = NOW + timedelta(days=expires_in_days) if expires_in_days else None
    info = KeyInfo(key_id=key_id, created_at=NOW, expires_at=expires)
    stored = credential(owner, key_id=key_id, expires_at=int(expires.timestamp()) if expires else None)
    store.add_key(owner.principal_id, info, key_hash, stored)
    return key_hash


def credential_items(client: Any, store: PrincipalStore) -> list[dict[str, Any]]:
    items = client.scan(TableName=store._table)["Items"]
    return [item for item in items if item["pk"]["S"].split("#")[0] in ("CRED", "USER", "KEYID")]


def test_a_principal_is_stored_listed_and_read_back(store: PrincipalStore):
    first, second = principal(1), principal(2)
    store.create(first)
    store.create(second)
    assert store.principals() == [first, second]
    assert store.principal(first.principal_id) == first
    assert store.principal("p_" + "9" * 20) is None


def test_keys_are_found_by_hash_listed_by_id_and_revoked(store: PrincipalStore):
    owner = principal(1)
    store.create(owner)
    lasting, expiring = add_key(store, owner, 1), add_key(store, owner, 2, expires_in_days=30)
    found = store.api_key(expiring)
    assert found is not None
    assert found.caller().principal_id == owner.principal_id
    assert found.expires_at == int((NOW + timedelta(days=30)).timestamp())
    assert not found.expired(NOW.timestamp())
    assert found.expired((NOW + timedelta(days=31)).timestamp())
    stored = store.principal(owner.principal_id)
    assert stored is not None
    assert [key.key_id for key in stored.keys] == [f"key_{1:016x}", f"key_{2:016x}"]

    assert store.revoke_key(f"key_{1:016x}")
    assert store.api_key(lasting) is None
    assert store.api_key(expiring) is not None
    assert not store.revoke_key(f"key_{1:016x}")


def test_a_third_key_and_a_key_of_no_principal_are_refused(store: PrincipalStore):
    owner = principal(1)
    store.create(owner)
    add_key(store, owner, 1)
    add_key(store, owner, 2)
    with pytest.raises(KeyLimitReached):
        add_key(store, owner, 3)
    with pytest.raises(PrincipalNotFound):
        add_key(store, principal(2), 4)
    assert store.api_key(f"{3:064x}") is None
    assert store.api_key(f"{4:064x}") is None


def test_a_user_name_belongs_to_one_principal_and_a_new_one_frees_the_old(store: PrincipalStore, client: Any):
    first, second = principal(1), principal(2)
    store.create(first)
    store.create(second)
    store.set_password(first.principal_id, "ops", credential(first, AuthMode.BASIC, password_hash="h"))
    with pytest.raises(UsernameTaken):
        store.set_password(second.principal_id, "ops", credential(second, AuthMode.BASIC, password_hash="h"))
    store.set_password(first.principal_id, "ops2", credential(first, AuthMode.BASIC, password_hash="h2"))
    assert store.user("ops") is None
    renamed = store.user("ops2")
    assert renamed is not None
    assert renamed.password_hash == "h2"
    store.set_password(second.principal_id, "ops", credential(second, AuthMode.BASIC, password_hash="h"))
    with pytest.raises(PrincipalNotFound):
        store.set_password("p_" + "9" * 20, "x", credential(first, AuthMode.BASIC, password_hash="h"))


def test_delete_removes_every_credential_item(store: PrincipalStore, client: Any):
    kept, deleted = principal(1), principal(2)
    for owner in (kept, deleted):
        store.create(owner)
    add_key(store, kept, 1)
    add_key(store, deleted, 2)
    add_key(store, deleted, 3)
    store.set_password(deleted.principal_id, "gone", credential(deleted, AuthMode.BASIC, password_hash="h"))
    assert store.delete(deleted.principal_id)
    assert [listed.principal_id for listed in store.principals()] == [kept.principal_id]
    remaining = {item["pk"]["S"] for item in credential_items(client, store)}
    assert remaining == {f"CRED#{1:064x}", f"KEYID#key_{1:016x}"}
    assert not store.delete(deleted.principal_id)


def test_every_item_the_store_reaches_has_one_of_its_leading_keys(store: PrincipalStore, client: Any):
    """What template.yaml's condition on AdminFunction's role allows (dynamodb:LeadingKeys)."""
    reached: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        requests = [next(iter(item.values())) for item in params.get("TransactItems", [])] or [params]
        for request in requests:
            key = request.get("Key") or request.get("Item")
            if key:
                reached.append(key["pk"]["S"])
            for value in request.get("ExpressionAttributeValues", {}).values():
                if "KeyConditionExpression" in request:
                    reached.append(value["S"])

    client.meta.events.register("before-parameter-build.dynamodb.*", record)
    owner = principal(1)
    store.create(owner)
    store.principals()
    add_key(store, owner, 1)
    store.set_password(owner.principal_id, "ops", credential(owner, AuthMode.BASIC, password_hash="h"))
    store.set_password(owner.principal_id, "ops2", credential(owner, AuthMode.BASIC, password_hash="h"))
    store.api_key(f"{1:064x}")
    store.user("ops2")
    store.revoke_key(f"key_{1:016x}")
    add_key(store, owner, 2)
    store.delete(owner.principal_id)
    # WHSEC: a deleted principal's webhook secrets go with it (flowport.aws.deliveries).
    assert {pk.split("#")[0] for pk in reached} == {"PRINCIPALS", "CRED", "USER", "KEYID", "WHSEC"}
    patterns = (*LEADING_KEYS, SECRETS_LEADING_KEY)
    assert all(any(fnmatchcase(pk, pattern) for pattern in patterns) for pk in reached), reached


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Each call on its own thread, released together; what each returned, or the error it raised."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = calls[index]()
        except Exception as error:
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.parametrize("round_", range(RACES))
def test_of_two_keys_racing_for_the_last_slot_exactly_one_is_issued(store: PrincipalStore, round_: int):
    owner = principal(round_)
    store.create(owner)
    add_key(store, owner, 100 + round_)
    # Different keys, and different expiries: two requests, not one sent twice.
    outcomes = _race(
        lambda: add_key(store, owner, 200 + round_, expires_in_days=round_ + 1),
        lambda: add_key(store, owner, 300 + round_),
    )
    issued = [outcome for outcome in outcomes if isinstance(outcome, str)]
    assert len(issued) == 1, outcomes
    assert all(isinstance(o, KeyLimitReached | ServiceUnavailable) for o in outcomes if o not in issued)
    stored = store.principal(owner.principal_id)
    assert stored is not None
    assert len(stored.keys) == 2
    (lost,) = {f"{200 + round_:064x}", f"{300 + round_:064x}"} - set(issued)
    assert store.api_key(lost) is None
    assert store.api_key(issued[0]) is not None


@pytest.mark.parametrize("round_", range(RACES))
def test_a_delete_racing_a_new_key_leaves_no_credential_behind(
    store: PrincipalStore, client: Any, round_: int
):
    owner = principal(round_)
    store.create(owner)
    for number in range(round_ % 2):  # with a key already, or none
        add_key(store, owner, 500 + round_ + number)
    if round_ % 3 == 0:
        store.set_password(
            owner.principal_id, f"u{round_}", credential(owner, AuthMode.BASIC, password_hash="h")
        )
    outcomes = _race(
        lambda: store.delete(owner.principal_id), lambda: add_key(store, owner, 700 + round_, round_ + 1)
    )
    for outcome in outcomes:
        assert not isinstance(outcome, Exception) or isinstance(
            outcome, PrincipalNotFound | ServiceUnavailable
        )
    principals = {p.principal_id for p in store.principals()}
    for item in credential_items(client, store):
        assert item["principalId"]["S"] in principals, item  # no credential of a deleted principal
    if owner.principal_id not in principals:
        assert store.api_key(f"{700 + round_:064x}") is None
