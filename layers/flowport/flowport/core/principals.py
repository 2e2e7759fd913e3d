"""Principals as the admin routes show and take them (who may do what: flowport.core.identity)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from flowport.core.identity import Scopes
from flowport.core.models import ApiModel

MAX_KEYS_PER_PRINCIPAL = 2  # two at once, so that a key can be replaced without a moment without one
PrincipalName = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")
]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._@+-]{1,64}$")]


class KeyInfo(ApiModel):
    """An API key as listed: never its secret, nor its hash."""

    key_id: str
    created_at: datetime
    expires_at: datetime | None = Field(default=None, description="When it stops working; absent: never")


class Principal(ApiModel):
    principal_id: str
    name: str
    scopes: Scopes
    created_at: datetime
    keys: list[KeyInfo] = Field(default=[], description=f"At most {MAX_KEYS_PER_PRINCIPAL}")
    username: str | None = Field(default=None, description="Set when it has a password (Basic)")


class PrincipalList(ApiModel):
    principals: list[Principal]


class NewPrincipal(ApiModel):
    """POST /admin/principals."""

    name: PrincipalName
    scopes: Scopes


class NewKey(ApiModel):
    """POST /admin/principals/{principalId}/keys (the body is optional)."""

    expires_in_days: int | None = Field(default=None, ge=1, le=3650, description="Absent: never expires")


class IssuedKey(ApiModel):
    """The answer that issues a key: the only time its secret is ever shown."""

    key_id: str
    principal_id: str
    secret: str = Field(description="The API key itself; flowport keeps only its SHA-256")
    created_at: datetime
    expires_at: datetime | None = None


class NewPassword(ApiModel):
    """PUT /admin/principals/{principalId}/password."""

    username: Username
    password: Annotated[str, StringConstraints(min_length=12, max_length=1024)]


class CallerView(ApiModel):
    """GET /me: the principal a credential stands for and what it may do, so that a client (the console)
    offers only what it may do."""

    principal_id: str
    name: str
    auth_mode: str = Field(description='How this request authenticated: "apiKey" or "basic"')
    scopes: Scopes
