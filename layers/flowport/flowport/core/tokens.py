"""Opaque pagination tokens: a page's position as compact JSON, base64url-encoded.

Clients must treat them as opaque; they are not signed, because a forged position only reads records the
caller may read anyway, and every field is checked on the way back in.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from flowport.core.errors import InvalidNextToken

# Far above any position flowport writes; refuses junk before it is decoded.
MAX_TOKEN_LENGTH = 2048


def encode(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> dict[str, Any]:
    """The position in `token`; InvalidNextToken when it is not one flowport wrote."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidNextToken("nextToken is longer than any token this API returns")
    try:
        position = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError) as error:  # RecursionError: "[[[[..." nested deep
        raise InvalidNextToken("nextToken is not a token this API returned") from error
    if not isinstance(position, dict):
        raise InvalidNextToken("nextToken is not a token this API returned")
    return position
