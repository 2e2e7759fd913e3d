"""The rules of who may do what (flowport.core.identity, core.policy.require_start), without AWS."""

from __future__ import annotations

import pytest
from flowport.core.errors import Forbidden, Unauthorized
from flowport.core.identity import Action, AuthMode, Caller, Reach, anonymous_caller
from flowport.core.policy import require_start
from flowport.core.registry import Workflow

from tests.support import caller

ALICE = caller(
    "p_alice00000000000000", workflows=("a", "b"), actions=(Action.READ,), own_executions_only=True
)


def workflow(name: str = "a", auth: object = None) -> Workflow:
    return Workflow.model_validate({"name": name, "versions": [1], **({"auth": auth} if auth else {})})


def test_a_caller_survives_the_authorizer_context_unchanged():
    context = {"principalId": ALICE.principal_id, **ALICE.to_context()}
    assert all(isinstance(value, str) for value in context.values())  # API Gateway's context: no nesting
    assert Caller.from_context(context) == ALICE
    assert Caller.from_context({"principalId": "anonymous", "authMode": "none"}) == anonymous_caller()


@pytest.mark.parametrize(
    "context",
    [None, {}, {"principalId": ""}, {"principalId": "p_x"}, {"principalId": "p_x", "authMode": "sorcery"}],
)
def test_an_absent_or_broken_context_is_no_caller(context: dict[str, str] | None):
    with pytest.raises(Unauthorized):
        Caller.from_context(context)


def test_what_a_caller_may_see():
    assert ALICE.may_see(Action.READ, "a", ALICE.principal_id)
    assert not ALICE.may_see(Action.READ, "a", "p_bob0000000000000000")  # another's
    assert not ALICE.may_see(Action.READ, "c", ALICE.principal_id)  # another workflow
    assert not ALICE.may_see(Action.CANCEL, "a", ALICE.principal_id)  # another action
    assert ALICE.reach() == Reach(workflows=("a", "b"), started_by=ALICE.principal_id)
    assert caller().reach() == Reach(workflows=None, started_by=None)
    assert not anonymous_caller().may_see(Action.READ, "a", "anonymous")  # a public start reads nothing


def test_the_default_auth_is_an_api_key_and_none_stands_alone():
    assert workflow().auth == (AuthMode.API_KEY,)
    assert workflow(auth=["basic", "apiKey", "basic"]).auth == (AuthMode.API_KEY, AuthMode.BASIC)
    assert workflow(auth="none").public
    with pytest.raises(ValueError, match="none"):
        workflow(auth=["none", "apiKey"])


def test_who_may_start_a_workflow():
    starter = caller("p_starter000000000000", workflows=("a",), actions=(Action.START,))
    require_start(starter, workflow("a"))
    require_start(anonymous_caller(), workflow("p", auth="none"))  # public: anyone
    require_start(ALICE, workflow("p", auth="none"))  # even without the start scope
    with pytest.raises(Forbidden):
        require_start(starter, workflow("b"))
    with pytest.raises(Unauthorized) as anonymous:
        require_start(anonymous_caller(), workflow("a", auth=["apiKey", "basic"]))
    assert anonymous.value.headers["WWW-Authenticate"].startswith('Bearer realm="flowport", Basic')
    basic = caller("p_basic0000000000000", mode=AuthMode.BASIC)
    with pytest.raises(Unauthorized) as wrong_kind:
        require_start(basic, workflow("a"))
    assert wrong_kind.value.headers["WWW-Authenticate"] == 'Bearer realm="flowport"'
