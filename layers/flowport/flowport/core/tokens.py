"""Opaque tokens: a page's position as compact JSON, base64url-encoded, signed for what it belongs to.

Every token and event id this API hands out ends in an HMAC-SHA256 of its text and of its scope (which
execution's history or event stream, or search), keyed with the stack's token key (Settings.token_secret).
So a token comes back as it was issued or not at all: a forged or truncated one, or one issued for another
execution, is refused (400) before its position is read. The position itself is not secret: a client
that decodes it learns where its page stopped, which it knew.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from flowport.core.errors import InvalidNextToken

# Far above any token flowport writes; refuses junk before it is decoded.
MAX_TOKEN_LENGTH = 2048
# 128 bits: no client can find a token of its own making by trying.
MAC_BYTES = 16


def _base64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def mac(key: bytes, scope: str, text: str, size: int = MAC_BYTES) -> str:
    """The signature of `text` issued for `scope`, as base64url."""
    digest = hmac.new(key, f"{scope}\x00{text}".encode(), hashlib.sha256).digest()
    return _base64(digest[:size])


def signed(key: bytes, scope: str, text: str, size: int = MAC_BYTES) -> str:
    """`text` with its signature after a dot: `text` must have no dot of its own after its last one."""
    return f"{text}.{mac(key, scope, text, size)}"


def unsigned(key: bytes, scope: str, token: str, size: int = MAC_BYTES) -> str | None:
    """The text `signed` made `token` of for `scope`; None for anything else."""
    text, dot, signature = token.rpartition(".")
    if not dot or not hmac.compare_digest(signature.encode(), mac(key, scope, text, size).encode()):
        return None
    return text


def encode(position: dict[str, Any], *, key: bytes, scope: str) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return signed(key, scope, _base64(raw))


def decode(token: str, *, key: bytes, scope: str) -> dict[str, Any]:
    """The position in `token`; InvalidNextToken unless flowport issued it for `scope`."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidNextToken("nextToken is longer than any token this API returns")
    payload = unsigned(key, scope, token)
    if payload is None:
        raise InvalidNextToken(
            "nextToken is not one this API returned for this request: pass the previous page's as is"
        )
    try:
        position = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError) as error:  # signed, so only a token of an older format
        raise InvalidNextToken("nextToken is not a token this API returned") from error
    if not isinstance(position, dict):
        raise InvalidNextToken("nextToken is not a token this API returned")
    return position
