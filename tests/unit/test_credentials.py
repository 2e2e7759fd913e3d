"""Credentials in every header form they are accepted in, and how their secrets are kept
(flowport.core.credentials)."""

from __future__ import annotations

import base64

import pytest
from flowport.core import credentials
from flowport.core.credentials import ApiKey, Password
from flowport.core.errors import Unauthorized

KEY_ID, SECRET = credentials.new_api_key()


def basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-API-Key": SECRET}, ApiKey(SECRET)),  # seed 003
        ({"x-api-key": f"  {SECRET} "}, ApiKey(SECRET)),  # any case, whitespace around it is not part of it
        ({"Authorization": f"Bearer {SECRET}"}, ApiKey(SECRET)),
        ({"authorization": f"bearer {SECRET}"}, ApiKey(SECRET)),
        ({"X-Authorization": SECRET}, ApiKey(SECRET)),  # Conductor's clients
        ({"X-Authorization": f"Bearer {SECRET}"}, ApiKey(SECRET)),
        ({"token": SECRET}, ApiKey(SECRET)),  # seed 002
        ({"Authorization": basic("ops:s3cret:with:colons")}, Password("ops", "s3cret:with:colons")),
        ({"user": "ops", "password": "s3cret"}, Password("ops", "s3cret")),  # seed 002
        ({"X-API-Key": SECRET, "Authorization": f"Bearer {SECRET}"}, ApiKey(SECRET)),  # one key, twice
        ({"Accept": "application/json"}, None),
    ],
)
def test_every_accepted_header_form(headers: dict[str, str], expected: object):
    assert credentials.presented(headers) == expected


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Digest abc"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic !!!not base64"},
        {"Authorization": basic("no-colon")},
        {"Authorization": basic(":password-without-user")},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:x").decode()},
        {"user": "ops"},
        {"password": "s3cret"},
        {"X-API-Key": "k" * (credentials.MAX_CREDENTIAL_LENGTH + 1)},
        {"X-API-Key": SECRET, "token": credentials.new_api_key()[1]},  # two different credentials
        {"X-API-Key": SECRET, "user": "ops", "password": "s3cret"},
    ],
)
def test_a_malformed_or_ambiguous_credential_is_401(headers: dict[str, str]):
    with pytest.raises(Unauthorized) as refused:
        credentials.presented(headers)
    assert refused.value.status == 401
    assert SECRET not in refused.value.detail


def test_keys_are_long_random_recognisable_and_never_shown_in_a_repr():
    ids_and_keys = [credentials.new_api_key() for _ in range(50)]
    assert len({key for _, key in ids_and_keys}) == 50
    for key_id, key in ids_and_keys:
        assert key.startswith("fpk_")
        assert key_id.startswith("key_")
        assert credentials.looks_like_a_key(key)
        assert len(base64.urlsafe_b64decode(key[4:] + "=")) == 32  # 256 bits
    assert SECRET not in repr(ApiKey(SECRET))
    assert "s3cret" not in repr(Password("ops", "s3cret"))
    assert credentials.key_hash(SECRET) != credentials.key_hash(SECRET[:-1])
    assert SECRET not in credentials.key_hash(SECRET)


def test_passwords_are_salted_and_checked():
    first, second = credentials.hash_password("correct horse"), credentials.hash_password("correct horse")
    assert first != second  # salted
    assert "correct horse" not in first
    assert first.startswith(f"scrypt${credentials.SCRYPT_N}$")
    assert credentials.verify_password("correct horse", first)
    assert not credentials.verify_password("correct horsf", first)
    assert not credentials.verify_password("correct horse", None)  # no such user
    assert not credentials.verify_password("correct horse", "not$a$hash")


def test_the_challenge_names_the_modes_schemes():
    from flowport.core.identity import AuthMode

    assert credentials.challenge([AuthMode.API_KEY]) == 'Bearer realm="flowport"'
    both = credentials.challenge([AuthMode.BASIC, AuthMode.API_KEY])
    assert both == 'Bearer realm="flowport", Basic realm="flowport", charset="UTF-8"'
