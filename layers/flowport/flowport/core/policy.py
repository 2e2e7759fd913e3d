"""The API Gateway policy of a caller: every route its scopes allow, across the whole API.

The authorizer returns this whole policy, not just an answer for the route asked about, so that a
policy cached for one request (by API Gateway, if its authorizer cache is turned on) stays right for
every other. Rules of the routes, no AWS: flowport.usecases.authorize puts them into the response.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flowport.core.credentials import challenge
from flowport.core.errors import Unauthorized
from flowport.core.identity import Action, AuthMode, Caller
from flowport.core.registry import Registry, Workflow

START_ROUTES = (("POST", "/workflows/{name}/executions"), ("GET", "/workflows/{name}/start"))
READ_ROUTES = (("GET", "/executions"), ("GET", "/executions/*"), ("GET", "/workflows"))
CANCEL_ROUTES = (("DELETE", "/executions/*"),)
RETRY_ROUTES = (("POST", "/executions/*/retry"), ("POST", "/executions/*/rerun"))
ADMIN_ROUTES = (("*", "/admin"), ("*", "/admin/*"))
WHO_AM_I = ("GET", "/me")  # any caller with credentials
# Conductor's workflow resource (flowport.api.routes.conductor), by the same actions. Its start by name
# is a start route of the workflow; the start whose body names the workflow is allowed to any caller who
# may start some workflow, and the start function checks the scope for the one named.
CONDUCTOR_START_ROUTES = (("POST", "/api/workflow/{name}"),)
CONDUCTOR_START_BY_BODY = ("POST", "/api/workflow")
CONDUCTOR_READ_ROUTES = (("GET", "/api/workflow/*"),)
CONDUCTOR_CANCEL_ROUTES = (("DELETE", "/api/workflow/*"),)
CONDUCTOR_RETRY_ROUTES = (("POST", "/api/workflow/*/retry"), ("POST", "/api/workflow/*/restart"))


@dataclass(frozen=True)
class Policy:
    allow: tuple[tuple[str, str], ...]  # (method or *, resource path with * wildcards)
    deny: tuple[tuple[str, str], ...] = ()


def accepts(workflow: Workflow, mode: AuthMode) -> bool:
    """Whether a start of `workflow` accepts a caller who authenticated this way (or not at all)."""
    return AuthMode.NONE in workflow.auth or mode in workflow.auth


def require_start(caller: Caller, workflow: Workflow) -> None:
    """A start of `workflow` by `caller`: any caller for a public workflow; otherwise a credential of a
    kind the workflow takes (401, naming those kinds) and the start scope for it (403)."""
    if workflow.public:
        return
    if caller.anonymous or caller.mode not in workflow.auth:
        raise Unauthorized(
            f"Workflow '{workflow.name}' is started with {' or '.join(workflow.auth)} credentials",
            challenge=challenge(workflow.auth),
        )
    caller.require(Action.START, workflow.name)


def policy_for(caller: Caller, registry: Registry) -> Policy:
    allow: list[tuple[str, str]] = []
    deny: list[tuple[str, str]] = []
    public = [name for name, workflow in registry.items() if AuthMode.NONE in workflow.auth]
    if caller.anonymous:
        # Not Conductor's: /api takes no anonymous caller (its clients always send their token).
        return Policy(tuple(_start_routes(public, conductor=False)))
    scopes = caller.scopes
    if Action.START in scopes.actions and scopes.all_workflows:
        # A wildcard, so that an unknown workflow reaches the function's 404 rather than a 403; the
        # workflows that do not take this kind of credential are denied by name (a Deny wins).
        allow += _start_routes(["*"])
        deny += _start_routes(name for name, w in registry.items() if not accepts(w, caller.mode))
        if Action.RETRY not in scopes.actions:
            # The wildcard's POST /api/workflow/* would reach Conductor's retry and restart too.
            deny += CONDUCTOR_RETRY_ROUTES
    else:
        startable = [
            name
            for name, workflow in registry.items()
            if accepts(workflow, caller.mode) and (name in public or scopes.allows(Action.START, name))
        ]
        allow += _start_routes(startable)
    if allow:
        allow.append(CONDUCTOR_START_BY_BODY)
    if Action.READ in scopes.actions:
        allow += READ_ROUTES
        allow += CONDUCTOR_READ_ROUTES
        readable = ["*"] if scopes.all_workflows else caller.readable_workflows(scopes.workflows)
        allow += [("GET", f"/workflows/{name}{part}") for name in readable for part in ("", "/graph")]
    if Action.CANCEL in scopes.actions:
        allow += CANCEL_ROUTES
        allow += CONDUCTOR_CANCEL_ROUTES
    if Action.RETRY in scopes.actions:
        # Which executions, and (for a rerun) whether the caller may start their workflow, is the start
        # function's to check: a policy cannot say what an execution id stands for.
        allow += RETRY_ROUTES
        allow += CONDUCTOR_RETRY_ROUTES
    if Action.ADMIN in scopes.actions:
        allow += ADMIN_ROUTES
    if allow:  # a caller allowed anything may ask what it is allowed (the console does)
        allow.append(WHO_AM_I)
    return Policy(tuple(allow), tuple(deny))


def _start_routes(names: Iterable[str], *, conductor: bool = True) -> list[tuple[str, str]]:
    routes = (*START_ROUTES, *CONDUCTOR_START_ROUTES) if conductor else START_ROUTES
    return [(method, path.replace("{name}", name)) for name in names for method, path in routes]
