"""A caller's whole-API policy (flowport.core.policy): every route its scopes allow, and no other."""

from __future__ import annotations

from pathlib import Path

from flowport.core.identity import Action, AuthMode, anonymous_caller
from flowport.core.policy import (
    ADMIN_ROUTES,
    CANCEL_ROUTES,
    CONDUCTOR_CANCEL_ROUTES,
    CONDUCTOR_READ_ROUTES,
    CONDUCTOR_RETRY_ROUTES,
    CONDUCTOR_START_BY_BODY,
    READ_ROUTES,
    RETRY_ROUTES,
    WHO_AM_I,
    policy_for,
)
from flowport.core.registry import Registry, Workflow

from tests.support import caller


def workflow(name: str, auth: object = None) -> Workflow:
    return Workflow.model_validate({"name": name, "versions": [1], **({"auth": auth} if auth else {})})


REGISTRY = Registry(
    {
        "keyed": workflow("keyed"),
        "either": workflow("either", ["apiKey", "basic"]),
        "open-door": workflow("open-door", "none"),
    },
    Path("."),
)


def anonymous_starts(name: str) -> set[tuple[str, str]]:
    return {("POST", f"/workflows/{name}/executions"), ("GET", f"/workflows/{name}/start")}


def starts(name: str) -> set[tuple[str, str]]:
    """A credential's starts of the workflow, Conductor's start by name among them (/api takes none
    without a credential)."""
    return {*anonymous_starts(name), ("POST", f"/api/workflow/{name}")}


def test_an_admin_may_call_everything_and_an_unknown_workflow_reaches_the_function():
    policy = policy_for(caller(), REGISTRY)
    assert set(policy.allow) == {
        *starts("*"),
        CONDUCTOR_START_BY_BODY,
        *READ_ROUTES,
        *CONDUCTOR_READ_ROUTES,
        ("GET", "/workflows/*"),
        ("GET", "/workflows/*/graph"),
        *CANCEL_ROUTES,
        *CONDUCTOR_CANCEL_ROUTES,
        *RETRY_ROUTES,
        *CONDUCTOR_RETRY_ROUTES,
        *ADMIN_ROUTES,
        WHO_AM_I,
    }
    assert policy.deny == ()


def test_a_wildcard_starter_with_a_password_is_denied_the_key_only_workflows():
    policy = policy_for(caller(mode=AuthMode.BASIC, actions=(Action.START,)), REGISTRY)
    assert set(policy.allow) == {*starts("*"), CONDUCTOR_START_BY_BODY, WHO_AM_I}
    # Conductor's start wildcard, POST /api/workflow/*, would reach its retry and restart: denied too.
    assert set(policy.deny) == {*starts("keyed"), *CONDUCTOR_RETRY_ROUTES}


def test_a_scoped_caller_gets_its_workflows_and_the_public_ones():
    reader = caller(workflows=("keyed",), actions=(Action.START, Action.READ))
    policy = policy_for(reader, REGISTRY)
    assert set(policy.allow) == {
        *starts("keyed"),
        *starts("open-door"),
        CONDUCTOR_START_BY_BODY,
        *READ_ROUTES,
        *CONDUCTOR_READ_ROUTES,
        ("GET", "/workflows/keyed"),
        ("GET", "/workflows/keyed/graph"),
        WHO_AM_I,
    }
    basic = policy_for(
        caller(workflows=("keyed", "either"), actions=(Action.START,), mode=AuthMode.BASIC), REGISTRY
    )
    assert set(basic.allow) == {
        *starts("either"),
        *starts("open-door"),
        CONDUCTOR_START_BY_BODY,
        WHO_AM_I,
    }  # keyed: keys


def test_no_credentials_start_the_public_workflows_only():
    policy = policy_for(anonymous_caller(), REGISTRY)
    assert set(policy.allow) == anonymous_starts("open-door")


def test_a_caller_without_routes_of_its_own_is_allowed_nothing():
    # A password, and the start of a workflow that takes API keys only.
    starter = caller(workflows=("keyed",), actions=(Action.START,), mode=AuthMode.BASIC)
    # Public starts only.
    assert set(policy_for(starter, REGISTRY).allow) == {
        *starts("open-door"),
        CONDUCTOR_START_BY_BODY,
        WHO_AM_I,
    }
    nothing = policy_for(starter, Registry({"keyed": workflow("keyed")}, Path(".")))
    assert nothing.allow == nothing.deny == ()


def test_the_retry_action_allows_retry_and_rerun_of_any_execution_its_function_then_checks():
    policy = policy_for(caller(workflows=("keyed",), actions=(Action.RETRY,)), REGISTRY)
    assert set(policy.allow) == {
        *RETRY_ROUTES,
        *CONDUCTOR_RETRY_ROUTES,
        *starts("open-door"),
        CONDUCTOR_START_BY_BODY,
        WHO_AM_I,
    }
    assert set(RETRY_ROUTES) == {("POST", "/executions/*/retry"), ("POST", "/executions/*/rerun")}
