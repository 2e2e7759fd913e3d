"""Who is calling, and what they may do: principals, their scopes, and the rules every function applies.

A principal is a caller with an id, a name and scopes: the workflows it may touch (names, or `*`) and the
actions it may take on them. The authorizer (flowport.usecases.authorize) turns a credential into a
`Caller`, which reaches the functions through API Gateway's authorizer context (strings only, so
`to_context`/`from_context` are the one encoding both sides use). The functions then apply the checks an
API Gateway policy cannot express: which executions a caller may see.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

from flowport.core.errors import Forbidden, Unauthorized

ALL_WORKFLOWS = "*"
ANONYMOUS = "anonymous"  # the principal id of a credential-less start of an `auth: none` workflow
PrincipalId = Annotated[str, StringConstraints(pattern=r"^p_[a-z0-9]{20}$")]
WorkflowScope = Annotated[str, StringConstraints(pattern=r"^(\*|[a-z0-9][a-z0-9-]{0,62})$")]


class Action(StrEnum):
    START = "start"
    READ = "read"  # status, history, events, search, workflows
    CANCEL = "cancel"
    RETRY = "retry"  # retry a failed execution from where it failed, or rerun one as a new execution
    ADMIN = "admin"  # manage principals and their credentials


class AuthMode(StrEnum):
    """How a caller proves who it is; a workflow's `auth` names the modes its start accepts."""

    API_KEY = "apiKey"
    BASIC = "basic"
    NONE = "none"  # no credentials: only a start of a workflow whose `auth` is "none"


class Scopes(BaseModel):
    """What a principal may do. Immutable once the principal exists (it is copied onto its credentials,
    so that the authorizer reads one item per request)."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    workflows: tuple[WorkflowScope, ...] = Field(min_length=1, description="Workflow names, or `*` for all")
    actions: tuple[Action, ...] = Field(min_length=1)
    own_executions_only: bool = Field(
        default=False, description="May read and cancel only the executions it started"
    )

    @field_validator("workflows", "actions")
    @classmethod
    def _distinct_sorted(cls, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(sorted(set(values)))

    @property
    def all_workflows(self) -> bool:
        return ALL_WORKFLOWS in self.workflows

    def covers(self, workflow: str) -> bool:
        return self.all_workflows or workflow in self.workflows

    def allows(self, action: Action, workflow: str | None = None) -> bool:
        """`action` on `workflow`; with no workflow, on at least one (as for a search)."""
        return action in self.actions and (workflow is None or self.covers(workflow))


NO_SCOPES = Scopes(workflows=(ALL_WORKFLOWS,), actions=(Action.START,))  # placeholder for ANONYMOUS


@dataclass(frozen=True)
class Reach:
    """Which executions a caller may touch: of these workflows (None: any), started by this principal
    (None: by anyone)."""

    workflows: tuple[str, ...] | None
    started_by: str | None


@dataclass(frozen=True)
class Caller:
    """The principal a request comes from, as the authorizer vouched for it."""

    principal_id: str
    name: str
    scopes: Scopes
    mode: AuthMode

    @property
    def anonymous(self) -> bool:
        return self.mode is AuthMode.NONE

    @property
    def idempotency_scope(self) -> str:
        """Idempotency keys are the caller's own: the same key from two principals is two keys."""
        return self.principal_id

    def require(self, action: Action, workflow: str | None = None) -> None:
        """403 when the caller's scopes do not allow `action` (on `workflow`)."""
        if self.anonymous or not self.scopes.allows(action, workflow):
            on = f" on workflow '{workflow}'" if workflow else ""
            raise Forbidden(f"This credential's scopes do not allow '{action.value}'{on}")

    def may_see(self, action: Action, workflow: str, started_by: str | None) -> bool:
        """Whether an execution of `workflow` started by `started_by` exists as far as this caller can
        tell: one it may not see answers exactly as an unknown id does (no existence oracle)."""
        if self.anonymous or not self.scopes.allows(action, workflow):
            return False
        return not self.scopes.own_executions_only or started_by == self.principal_id

    def reach(self) -> Reach:
        """The executions `may_see` lets this caller touch, as a store can put them into a condition."""
        return Reach(
            workflows=None if self.scopes.all_workflows else self.scopes.workflows,
            started_by=self.principal_id if self.scopes.own_executions_only else None,
        )

    def readable_workflows(self, names: Iterable[str]) -> list[str]:
        return [name for name in names if self.scopes.allows(Action.READ, name)]

    # -- API Gateway's authorizer context: string values only, no nesting ------------------------------

    def to_context(self) -> dict[str, str]:
        return {
            "principalName": self.name,
            "workflows": ",".join(self.scopes.workflows),
            "actions": ",".join(self.scopes.actions),
            "ownExecutionsOnly": "true" if self.scopes.own_executions_only else "false",
            "authMode": self.mode.value,
        }

    @classmethod
    def from_context(cls, authorizer: Mapping[str, Any] | None) -> Caller:
        """The caller API Gateway passed on; 401 when there is none (a function invoked without the
        authorizer in front of it, as `sam local invoke` with an event that has no authorizer context)."""
        if not authorizer or not authorizer.get("principalId"):
            raise Unauthorized("No authenticated caller reached this function")
        try:
            mode = AuthMode(str(authorizer["authMode"]))
            if mode is AuthMode.NONE:
                return anonymous_caller()
            scopes = Scopes(
                workflows=tuple(filter(None, str(authorizer["workflows"]).split(","))),
                actions=tuple(filter(None, str(authorizer["actions"]).split(","))),
                own_executions_only=str(authorizer.get("ownExecutionsOnly", "")).lower() == "true",
            )
        except (KeyError, ValueError) as error:
            raise Unauthorized("The authorizer context of this request is incomplete") from error
        return cls(str(authorizer["principalId"]), str(authorizer.get("principalName", "")), scopes, mode)


def anonymous_caller() -> Caller:
    return Caller(ANONYMOUS, ANONYMOUS, NO_SCOPES, AuthMode.NONE)


class StoredCredential(BaseModel):
    """What the authorizer reads, in one item, for one API key or one user name: the principal it
    belongs to with a copy of its scopes, and for a password its scrypt hash."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    principal_id: str
    principal_name: str
    scopes: Scopes
    mode: AuthMode
    key_id: str | None = None
    password_hash: str | None = None
    expires_at: int | None = Field(default=None, description="Epoch seconds; absent: never")

    def caller(self) -> Caller:
        return Caller(self.principal_id, self.principal_name, self.scopes, self.mode)

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now
