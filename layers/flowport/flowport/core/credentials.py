"""Credentials: the headers a caller sends them in, the API keys flowport issues, and how their secrets are
kept (never as they are).

API keys are `fpk_` and 43 characters of URL-safe base64 (256 random bits): the prefix lets secret scanners
find a leaked one. A key is stored as its SHA-256 only, and looked up by it; with 256 random bits a salt
or a pepper adds nothing (nothing can be guessed to test against the hash). Passwords are people's, so
they get scrypt, salted, slow and memory-hard; an unknown user name costs the same scrypt run.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flowport.core.errors import Unauthorized
from flowport.core.identity import AuthMode

KEY_PREFIX = "fpk_"
KEY_BYTES = 32  # 256 bits
KEY_ID_PREFIX = "key_"
MAX_CREDENTIAL_LENGTH = 1024
# The header forms accepted: X-API-Key (seed 003), Authorization Bearer, X-Authorization (Conductor's
# clients send the bare token there), `token` (seed 002), Authorization Basic and seed 002's user+password.
API_KEY_HEADERS = ("x-api-key", "x-authorization", "token")
USER_HEADER, PASSWORD_HEADER = "user", "password"
CREDENTIAL_HEADERS = ("authorization", *API_KEY_HEADERS, USER_HEADER, PASSWORD_HEADER)

# scrypt with N=2^14, r=8, p=1: 16 MiB and some 50 ms per check (OWASP's floor for scrypt is N=2^17 at
# p=1 for interactive logins; a Lambda authorizer that caches its answers checks a password rarely, but
# each check bills its time, so the middle of the range).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SCRYPT_SALT_BYTES = 16
SCRYPT_HASH_BYTES = 32
_SCRYPT_MAX_MEMORY = 64 * 1024 * 1024


@dataclass(frozen=True, repr=False)
class ApiKey:
    secret: str

    @property
    def mode(self) -> AuthMode:
        return AuthMode.API_KEY

    def cache_key(self) -> str:
        return "k:" + key_hash(self.secret)

    def __repr__(self) -> str:  # never the secret, even in a traceback
        return "ApiKey(<secret>)"


@dataclass(frozen=True, repr=False)
class Password:
    username: str
    password: str

    @property
    def mode(self) -> AuthMode:
        return AuthMode.BASIC

    def cache_key(self) -> str:
        return "p:" + hashlib.sha256(f"{self.username}\x00{self.password}".encode()).hexdigest()

    def __repr__(self) -> str:
        return f"Password({self.username!r}, <secret>)"


Presented = ApiKey | Password


def presented(headers: Mapping[str, str]) -> Presented | None:
    """The one credential a request carries, from any of the accepted headers (names in any case);
    None when it carries none. Two different ones, or a malformed one, is a 401: guessing which the
    client meant could authenticate it as someone it did not mean to be."""
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    found: set[Presented] = set()
    authorization = lowered.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            found.add(ApiKey(_checked(value.strip())))
        elif scheme.lower() == "basic":
            found.add(_basic(value.strip()))
        else:
            raise Unauthorized("The Authorization header's scheme is neither Bearer nor Basic")
    for name in API_KEY_HEADERS:
        if lowered.get(name):
            value = lowered[name]
            # Conductor's clients and some proxies send a bearer token with its scheme in these too.
            if value[:7].lower() == "bearer ":
                value = value[7:].strip()
            found.add(ApiKey(_checked(value)))
    if lowered.get(USER_HEADER) or lowered.get(PASSWORD_HEADER):
        user, password = lowered.get(USER_HEADER, ""), lowered.get(PASSWORD_HEADER, "")
        if not user or not password:
            raise Unauthorized("The user and password headers go together: send both")
        found.add(Password(_checked(user), _checked(password)))
    if len(found) > 1:
        raise Unauthorized("The request carries more than one credential: send one")
    return found.pop() if found else None


def _checked(value: str) -> str:
    if not value or len(value) > MAX_CREDENTIAL_LENGTH:
        raise Unauthorized("A credential header is empty or too long")
    return value


def _basic(encoded: str) -> Password:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise Unauthorized("The Basic credentials are not base64 of UTF-8 user:password") from None
    username, colon, password = decoded.partition(":")
    if not colon or not username or not password:
        raise Unauthorized("The Basic credentials are not user:password")
    return Password(_checked(username), _checked(password))


def challenge(modes: Iterable[AuthMode]) -> str:
    """The WWW-Authenticate value naming the schemes these modes take (RFC 9110 §11.6.1)."""
    schemes = {
        AuthMode.API_KEY: 'Bearer realm="flowport"',
        AuthMode.BASIC: 'Basic realm="flowport", charset="UTF-8"',
    }
    return ", ".join(schemes[mode] for mode in (AuthMode.API_KEY, AuthMode.BASIC) if mode in set(modes))


# -- API keys ------------------------------------------------------------------------------------------


def new_api_key() -> tuple[str, str]:
    """A new key's id (shown, logged, used to revoke it) and its secret (shown once, then only hashed)."""
    return KEY_ID_PREFIX + secrets.token_hex(8), KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def key_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_a_key(secret: str) -> bool:
    """Only the form: a key that is not ours costs no lookup (and says nothing about ours)."""
    return secret.startswith(KEY_PREFIX) and len(secret) == len(KEY_PREFIX) + 43


# -- passwords -----------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SCRYPT_SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)))


def verify_password(password: str, encoded: str | None) -> bool:
    """Constant-time as to the stored hash; with none (an unknown user) a hash of the same cost is
    computed anyway, so that the answer takes as long as for a known user with a wrong password."""
    try:
        scheme, n, r, p, salt, digest = (encoded or _UNKNOWN_USER).split("$")
        expected = base64.b64decode(digest)
        computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(computed, expected) and encoded is not None and scheme == "scrypt"


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAX_MEMORY, dklen=SCRYPT_HASH_BYTES
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# Matches no password (its digest is of random bytes nobody knows): what an unknown user is checked against.
_UNKNOWN_USER = "$".join(
    (
        "scrypt",
        str(SCRYPT_N),
        str(SCRYPT_R),
        str(SCRYPT_P),
        _b64(b"\x00" * SCRYPT_SALT_BYTES),
        _b64(secrets.token_bytes(SCRYPT_HASH_BYTES)),
    )
)
