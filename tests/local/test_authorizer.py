"""The local gateway's Lambda authorizers, with a stand-in authorizer function: the event it gets, the policy
evaluated as IAM does, API Gateway's cache by identity sources, and the gateway responses it answers with."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from flowport.core.errors import DEFAULT_CHALLENGE
from flowport.local.authorizer import Allowed, LocalAuthorizers, Refused, method_arn
from flowport.local.cloud import local_gaps
from flowport.local.functions import Function, FunctionError
from flowport.local.gateway import HttpRequest, LocalApiGateway, proxy_event
from flowport.local.template import ApiRoute, AuthorizerSpec, Stack, build_stack, load_template

ROOT = Path(__file__).resolve().parents[2]
ARN = "arn:aws:execute-api:us-east-1:123456789012:local/local"
ROUTE = ApiRoute("GET", "/executions/{executionId}")


class StandIn:
    """The authorizer function: answers with `answer` (or raises it), and counts its calls."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def __call__(self, _function: Function, event: dict[str, Any]) -> Any:
        self.events.append(event)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def policy(*statements: tuple[str, str | list[str]], context: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "principalId": "p_1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
                for effect, resource in statements
            ],
        },
        "context": context or {"principalName": "one"},
    }


def event_for(path: str, headers: dict[str, str] | None = None, method: str = "GET") -> dict[str, Any]:
    request = HttpRequest(method, path, list((headers or {}).items()), b"")
    return proxy_event(request, ROUTE, {"executionId": path.rsplit("/", 1)[-1]})


def spec(stack: Stack, **changes: Any) -> AuthorizerSpec:
    return replace(stack.route_authorizers[ApiRoute("GET", "/executions")], **changes)


def test_the_authorizer_gets_api_gateways_request_event_with_the_method_arn(stack: Stack):
    stand_in = StandIn(policy(("Allow", f"{ARN}/GET/executions/*")))
    outcome = LocalAuthorizers(stack, stand_in).authorize(
        spec(stack), event_for("/executions/e-1", {"X-Api-Key": "k"})
    )
    (event,) = stand_in.events
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == method_arn("GET", "/executions/e-1", "local") == f"{ARN}/GET/executions/e-1"
    assert (event["resource"], event["path"], event["httpMethod"]) == (ROUTE.path, "/executions/e-1", "GET")
    assert event["headers"] == {"X-Api-Key": "k"}
    assert event["pathParameters"] == {"executionId": "e-1"}
    assert "body" not in event
    assert isinstance(outcome, Allowed)
    assert outcome.authorizer["principalId"] == "p_1"
    assert outcome.authorizer["principalName"] == "one"


@pytest.mark.parametrize(
    ("statements", "allowed"),
    [
        ([("Allow", f"{ARN}/GET/executions/*")], True),  # `*` crosses `/`
        ([("Allow", f"{ARN}/*/executions/e-?")], True),
        ([("Allow", f"{ARN}/GET/executions/e-??")], False),
        ([("Allow", f"{ARN}/POST/executions/*")], False),
        ([("Allow", f"{ARN}/GET/Executions/*")], False),  # ARNs are case-sensitive
        ([("Allow", f"{ARN}/*/*"), ("Deny", f"{ARN}/GET/executions/e-1")], False),  # an explicit Deny wins
        (
            [("Deny", f"{ARN}/DELETE/*"), ("Allow", [f"{ARN}/GET/workflows", f"{ARN}/GET/executions/e-1"])],
            True,
        ),
        ([("Deny", f"{ARN}/*/*")], False),
    ],
)
def test_the_policy_is_evaluated_as_iam_does(stack: Stack, statements: list[Any], allowed: bool):
    outcome = LocalAuthorizers(stack, StandIn(policy(*statements))).authorize(
        spec(stack), event_for("/executions/e-1")
    )
    assert isinstance(outcome, Allowed) is allowed
    if not allowed:
        assert isinstance(outcome, Refused)
        assert outcome.response_type == "ACCESS_DENIED"


@pytest.mark.parametrize(
    ("error", "response_type"),
    [
        (Exception("Unauthorized"), "UNAUTHORIZED"),
        (FunctionError({"errorType": "Exception", "errorMessage": "Unauthorized"}), "UNAUTHORIZED"),
        (Exception("unauthorized"), "AUTHORIZER_FAILURE"),  # exactly that message, or it is a failure
        (
            FunctionError({"errorType": "ServiceUnavailable", "errorMessage": "DynamoDB"}),
            "AUTHORIZER_FAILURE",
        ),
    ],
)
def test_the_authorizers_errors_are_what_api_gateway_makes_of_them(
    stack: Stack, error: BaseException, response_type: str
):
    outcome = LocalAuthorizers(stack, StandIn(error)).authorize(spec(stack), event_for("/executions/e-1"))
    assert isinstance(outcome, Refused)
    assert outcome.response_type == response_type


@pytest.mark.parametrize(
    "answer",
    [None, {"principalId": "p"}, policy(context={"nested": {"a": 1}}), {**policy(), "principalId": 7}],
    ids=["nothing", "no-policy", "nested-context", "principal-not-a-string"],
)
def test_an_answer_api_gateway_would_not_take_is_a_configuration_error(stack: Stack, answer: Any):
    outcome = LocalAuthorizers(stack, StandIn(answer)).authorize(spec(stack), event_for("/executions/e-1"))
    assert isinstance(outcome, Refused)
    assert outcome.response_type == "AUTHORIZER_CONFIGURATION_ERROR"


def test_without_reauthorize_every_nothing_is_cached_and_no_identity_source_is_required(stack: Stack):
    stand_in = StandIn(policy(("Allow", f"{ARN}/*/*")))
    authorizers = LocalAuthorizers(stack, stand_in)
    for _ in range(3):
        assert isinstance(authorizers.authorize(spec(stack), event_for("/executions/e-1")), Allowed)
    assert len(stand_in.events) == 3


def test_with_reauthorize_every_an_answer_is_cached_by_the_identity_sources_for_that_long(stack: Stack):
    stand_in, clock = StandIn(policy(("Allow", f"{ARN}/GET/executions/e-1"))), Clock()
    authorizers = LocalAuthorizers(stack, stand_in, monotonic=clock)
    cached = spec(stack, identity_headers=("x-api-key",), reauthorize_seconds=60)
    assert isinstance(
        authorizers.authorize(cached, event_for("/executions/e-1", {"X-API-Key": "a"})), Allowed
    )
    # The cached policy is evaluated again for each request: another method ARN is denied by it.
    denied = authorizers.authorize(cached, event_for("/executions/e-2", {"x-api-key": "a"}))
    assert isinstance(denied, Refused)
    assert denied.response_type == "ACCESS_DENIED"
    assert len(stand_in.events) == 1
    authorizers.authorize(cached, event_for("/executions/e-1", {"X-API-Key": "b"}))  # another source value
    assert len(stand_in.events) == 2
    clock.now += 60
    authorizers.authorize(cached, event_for("/executions/e-1", {"X-API-Key": "a"}))
    assert len(stand_in.events) == 3


def test_with_reauthorize_every_a_missing_identity_source_is_401_without_a_call(stack: Stack):
    stand_in = StandIn(policy(("Allow", f"{ARN}/*/*")))
    cached = spec(stack, identity_headers=("x-api-key",), reauthorize_seconds=60)
    outcome = LocalAuthorizers(stack, stand_in).authorize(
        cached, event_for("/executions/e-1", {"Token": "k"})
    )
    assert outcome == Refused("UNAUTHORIZED", "Unauthorized")
    assert stand_in.events == []


def test_the_gateways_own_answers_come_from_the_templates_gateway_responses(stack: Stack):
    gateway = LocalApiGateway(stack)
    unauthorized = gateway.response("UNAUTHORIZED", "Unauthorized")
    headers = dict(unauthorized.headers)
    assert (unauthorized.status, headers["Content-Type"]) == (401, "application/problem+json")
    assert headers["WWW-Authenticate"] == DEFAULT_CHALLENGE
    assert json.loads(unauthorized.body)["detail"] == "Unauthorized"
    denied = gateway.response("ACCESS_DENIED", 'User "x" is not authorized')
    assert denied.status == 403
    assert json.loads(denied.body) == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": 'User "x" is not authorized',  # quoted as JSON, as $context.error.messageString is
        "code": "forbidden",
    }
    failed = gateway.response("AUTHORIZER_FAILURE", "failed")
    assert (failed.status, json.loads(failed.body)["code"]) == (500, "authorizer_failure")
    configuration = gateway.response("AUTHORIZER_CONFIGURATION_ERROR", "bad")
    assert (configuration.status, json.loads(configuration.body)["code"]) == (
        502,
        "authorizer_configuration_error",
    )


def test_every_route_but_the_public_ones_has_the_templates_authorizer(stack: Stack):
    public = {route for route in stack.routes if route not in stack.route_authorizers}
    # The status function's 405s say what /openapi.json says; the admin function's stay behind the
    # authorizer, so that nothing unauthenticated reaches the one function that writes credentials.
    status_405s = {
        route
        for route, function in stack.routes.items()
        if route.method == "ANY" and function.logical_id == "StatusFunction"
    }
    # Conductor's: its 405s and 501s, and its token exchange, called before there is a token.
    conductor = {
        route
        for route, function in stack.routes.items()
        if function.logical_id == "ConductorFunction"
        and (route.method == "ANY" or route.path == "/api/token")
    }
    # The console's: static files, which call the API with the key the user enters.
    console = {route for route, function in stack.routes.items() if function.logical_id == "ConsoleFunction"}
    assert public == {ApiRoute("GET", "/openapi.json"), *status_405s, *conductor, *console}
    (authorizer,) = set(stack.route_authorizers.values())
    assert authorizer.function_arn == stack.functions["AuthorizerFunction"].arn
    assert authorizer.reauthorize_seconds == 0  # API Gateway's cache is off: template.yaml says why


def test_the_auth_settings_the_local_gateway_does_not_reproduce_are_said_at_start(tmp_path: Path):
    template = load_template(ROOT / "template.yaml")
    auth = template["Resources"]["FlowportApi"]["Properties"]["Auth"]
    auth["UsagePlan"] = {"CreateUsagePlan": "PER_API"}
    auth["ResourcePolicy"] = {"IpRangeWhitelist": ["10.0.0.0/8"]}
    auth["Authorizers"]["Cognito"] = {"UserPoolArn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/x"}
    events = template["Resources"]["StatusFunction"]["Properties"]["Events"]
    events["SearchExecutions"]["Properties"]["Auth"] = {"Authorizer": "AWS_IAM", "ApiKeyRequired": True}
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template))
    for folder in ("functions", "layers", "statemachines"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    assert sorted(local_gaps(build_stack(path))) == sorted(
        f"{setting} is not reproduced by the local gateway"
        for setting in [
            "FlowportApi Auth.UsagePlan",
            "FlowportApi Auth.ResourcePolicy",
            "FlowportApi authorizer Cognito (only Lambda REQUEST authorizers are reproduced)",
            "event StatusFunction.SearchExecutions Auth.ApiKeyRequired",
            "event StatusFunction.SearchExecutions Auth.Authorizer AWS_IAM "
            "(the route is served unauthenticated)",
        ]
    )
