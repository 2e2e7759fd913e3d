"""Use case: manage principals and their credentials (the admin routes, and the first admin's bootstrap)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta

from flowport.core import credentials
from flowport.core.clock import Clock, utcnow
from flowport.core.errors import InvalidParameter, KeyNotFound, PrincipalNotFound
from flowport.core.identity import ALL_WORKFLOWS, Action, AuthMode, Scopes, StoredCredential
from flowport.core.models import FieldProblem
from flowport.core.ports import PrincipalDirectory
from flowport.core.principals import (
    IssuedKey,
    KeyInfo,
    NewKey,
    NewPassword,
    NewPrincipal,
    Principal,
    PrincipalList,
)
from flowport.core.registry import Registry

ADMIN_SCOPES = Scopes(workflows=(ALL_WORKFLOWS,), actions=tuple(Action))


def _new_principal_id() -> str:
    return "p_" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(20))


class ManagePrincipals:
    def __init__(
        self,
        directory: PrincipalDirectory,
        registry: Registry,
        clock: Clock = utcnow,
        new_id: Callable[[], str] = _new_principal_id,
    ) -> None:
        self._directory = directory
        self._registry = registry
        self._clock = clock
        self._new_id = new_id

    def create(self, request: NewPrincipal) -> Principal:
        unknown = [
            name for name in request.scopes.workflows if name != ALL_WORKFLOWS and name not in self._registry
        ]
        if unknown:
            raise InvalidParameter(
                f"No workflow named {', '.join(map(repr, unknown))}: scopes name deployed workflows, or '*'",
                errors=[
                    FieldProblem(field="/body/scopes/workflows", message=f"unknown workflows: {unknown}")
                ],
            )
        principal = Principal(
            principal_id=self._new_id(), name=request.name, scopes=request.scopes, created_at=self._clock()
        )
        self._directory.create(principal)
        return principal

    def principals(self) -> PrincipalList:
        return PrincipalList(principals=self._directory.principals())

    def principal(self, principal_id: str) -> Principal:
        principal = self._directory.principal(principal_id)
        if principal is None:
            raise PrincipalNotFound(f"No principal '{principal_id}'")
        return principal

    def issue_key(self, principal_id: str, request: NewKey) -> IssuedKey:
        principal = self.principal(principal_id)
        key_id, secret = credentials.new_api_key()
        now = self._clock().replace(microsecond=0)
        expires = now + timedelta(days=request.expires_in_days) if request.expires_in_days else None
        credential = StoredCredential(
            principal_id=principal.principal_id,
            principal_name=principal.name,
            scopes=principal.scopes,
            mode=AuthMode.API_KEY,
            key_id=key_id,
            expires_at=int(expires.timestamp()) if expires else None,
        )
        info = KeyInfo(key_id=key_id, created_at=now, expires_at=expires)
        self._directory.add_key(principal.principal_id, info, credentials.key_hash(secret), credential)
        return IssuedKey(
            key_id=key_id,
            principal_id=principal.principal_id,
            secret=secret,
            created_at=now,
            expires_at=expires,
        )

    def revoke_key(self, key_id: str) -> None:
        if not self._directory.revoke_key(key_id):
            raise KeyNotFound(f"No API key '{key_id}' (unknown, or revoked already)")

    def set_password(self, principal_id: str, request: NewPassword) -> Principal:
        principal = self.principal(principal_id)
        credential = StoredCredential(
            principal_id=principal.principal_id,
            principal_name=principal.name,
            scopes=principal.scopes,
            mode=AuthMode.BASIC,
            password_hash=credentials.hash_password(request.password),
        )
        self._directory.set_password(principal.principal_id, request.username, credential)
        return principal.model_copy(update={"username": request.username})

    def delete(self, principal_id: str) -> None:
        if not self._directory.delete(principal_id):
            raise PrincipalNotFound(f"No principal '{principal_id}'")

    def bootstrap_admin(self, name: str) -> IssuedKey:
        """A new principal with every scope, and its first key: how a stack gets its first admin."""
        principal = self.create(NewPrincipal(name=name, scopes=ADMIN_SCOPES))
        return self.issue_key(principal.principal_id, NewKey())
