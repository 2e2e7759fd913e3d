"""functions/authorize: API Gateway's REQUEST authorizer, fed events/authorize-request.json, over moto."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from flowport.core.identity import Caller
from flowport.local.cloud import LocalCloud
from flowport.local.functions import invoke, load_module

from tests.support import HandlerStreams, admin_key, basic, issue_key, load_event, new_principal, set_password

UNAUTHORIZED = r"^Unauthorized$"  # exactly: the message API Gateway answers 401 for
ARN_PREFIX = "arn:aws:execute-api:us-east-1:123456789012:1234567890/v1"


def authorize(cloud: LocalCloud, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    """The authorizer's answer to the sample event with these credential headers (and other changes)."""
    event = copy.deepcopy(load_event("authorize-request"))
    del event["headers"]["X-API-Key"], event["multiValueHeaders"]["X-API-Key"]
    event["headers"].update(headers)
    event["multiValueHeaders"].update({name: [value] for name, value in headers.items()})
    event.update(changes)
    answer: dict[str, Any] = invoke(cloud.stack.functions["AuthorizerFunction"], event)
    return answer


def statements(answer: dict[str, Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for statement in answer["policyDocument"]["Statement"]:
        assert statement["Action"] == "execute-api:Invoke"
        found.setdefault(statement["Effect"], set()).update(statement["Resource"])
    return found


def test_an_admin_key_is_allowed_every_route_with_the_caller_in_the_context(cloud: LocalCloud):
    answer = authorize(cloud, {"X-API-Key": admin_key()})
    allowed = statements(answer)["Allow"]
    assert f"{ARN_PREFIX}/POST/workflows/*/executions" in allowed
    assert f"{ARN_PREFIX}/GET/executions/*" in allowed
    assert f"{ARN_PREFIX}/DELETE/executions/*" in allowed
    assert f"{ARN_PREFIX}/*/admin/*" in allowed
    caller = Caller.from_context({"principalId": answer["principalId"], **answer["context"]})
    assert caller.scopes.all_workflows
    assert all(isinstance(value, str) for value in answer["context"].values())


def test_a_scoped_key_is_allowed_only_its_workflows_routes(cloud: LocalCloud):
    principal = new_principal(workflows=["ticket-triage"], actions=["start"])
    answer = authorize(cloud, {"Authorization": f"Bearer {issue_key(principal).secret}"})
    assert answer["principalId"] == principal
    assert statements(answer) == {
        "Allow": {
            f"{ARN_PREFIX}/POST/workflows/ticket-triage/executions",
            f"{ARN_PREFIX}/GET/workflows/ticket-triage/start",
            f"{ARN_PREFIX}/POST/api/workflow/ticket-triage",
            f"{ARN_PREFIX}/POST/api/workflow",
            f"{ARN_PREFIX}/GET/me",
        }
    }


SEARCH = {
    "resource": "/executions",
    "path": "/executions",
    "httpMethod": "GET",
    "pathParameters": None,
    "methodArn": f"{ARN_PREFIX}/GET/executions",
}


def test_a_password_is_checked(cloud: LocalCloud):
    principal = new_principal()
    set_password(principal, "ops", "correct horse battery")
    right = authorize(cloud, {"Authorization": basic("ops", "correct horse battery")}, **SEARCH)
    assert right["principalId"] == principal
    with pytest.raises(Exception, match=UNAUTHORIZED):
        authorize(cloud, {"Authorization": basic("ops", "wrong horse battery")}, **SEARCH)


def test_a_start_refuses_credentials_its_workflow_does_not_take(cloud: LocalCloud):
    """ticket-triage takes API keys only (the default): a right password is still a 401 there."""
    set_password(new_principal(), "ops", "correct horse battery")
    with pytest.raises(Exception, match=UNAUTHORIZED):
        authorize(cloud, {"Authorization": basic("ops", "correct horse battery")})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "fpk_" + "x" * 43},
        {"X-API-Key": "not-a-key"},
        {"Authorization": "Digest abc"},
        {"user": "ops"},
    ],
    ids=["none", "unknown", "malformed", "other-scheme", "user-without-password"],
)
def test_missing_or_wrong_credentials_are_the_message_api_gateway_answers_401_for(
    cloud: LocalCloud, headers: dict[str, str]
):
    with pytest.raises(Exception, match=UNAUTHORIZED):
        authorize(cloud, headers)


def test_an_expired_key_is_refused(cloud: LocalCloud):
    with pytest.raises(Exception, match=UNAUTHORIZED):
        authorize(cloud, {"X-API-Key": issue_key(new_principal(), expired=True).secret})


def test_a_principal_without_a_route_gets_a_policy_that_denies_everything(cloud: LocalCloud):
    # A password, and the start of a workflow that takes API keys only: no route of the API.
    set_password(
        new_principal(workflows=["ticket-triage"], actions=["start"]), "ops", "correct horse battery"
    )
    answer = authorize(cloud, {"Authorization": basic("ops", "correct horse battery")}, **SEARCH)
    assert statements(answer) == {"Deny": {f"{ARN_PREFIX}/*/*"}}


def test_the_retry_action_allows_retry_and_rerun_of_any_execution(cloud: LocalCloud):
    # Which executions, and whether a rerun's workflow may be started, the start function checks.
    answer = authorize(
        cloud, {"X-API-Key": issue_key(new_principal(workflows=["ticket-triage"], actions=["retry"])).secret}
    )
    assert statements(answer) == {
        "Allow": {
            f"{ARN_PREFIX}/POST/executions/*/retry",
            f"{ARN_PREFIX}/POST/executions/*/rerun",
            f"{ARN_PREFIX}/POST/api/workflow/*/retry",
            f"{ARN_PREFIX}/POST/api/workflow/*/restart",
            f"{ARN_PREFIX}/GET/me",
        }
    }


def test_the_refusal_is_logged_with_its_reason_and_never_the_credential(cloud: LocalCloud):
    secret = "fpk_" + "y" * 43
    load_module(cloud.stack.functions["AuthorizerFunction"])  # its logger's handler exists, to be swapped
    with HandlerStreams() as streams, pytest.raises(Exception, match=UNAUTHORIZED):
        authorize(cloud, {"X-API-Key": secret})
    logged = streams.buffer.getvalue()
    assert '"message":"unauthorized"' in logged.replace(" ", "")
    assert "unknown, expired or revoked" in logged
    assert secret not in logged
