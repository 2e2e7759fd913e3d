"""API Gateway's REQUEST authorizer, both ways: its event into an AuthRequest, a Decision into the IAM
policy it answers with (Powertools' data classes for both).

The policy names every route the caller may call (flowport.core.policy), not only the one asked about,
so that it would stay right for every method if API Gateway cached it.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerResponse,
)

from flowport.usecases.authorize import AuthRequest, Decision

# The message API Gateway turns into its UNAUTHORIZED gateway response (401); any other error of the
# authorizer is an AUTHORIZER_FAILURE (500).
UNAUTHORIZED_MESSAGE = "Unauthorized"


def auth_request(event: APIGatewayAuthorizerRequestEvent) -> AuthRequest:
    return AuthRequest(
        headers=event.headers or {}, resource=event.resource, path_parameters=event.path_parameters or {}
    )


def authorizer_response(method_arn: str, decision: Decision) -> dict[str, Any]:
    response = APIGatewayAuthorizerResponse.from_route_arn(
        method_arn, decision.caller.principal_id, context=dict(decision.caller.to_context())
    )
    for method, path in decision.policy.allow:
        response.allow_route(method, path)
    for method, path in decision.policy.deny:
        response.deny_route(method, path)
    if not decision.policy.allow:
        response.deny_all_routes()
    return response.asdict()
