"""Authorizer Lambda: API Gateway's REQUEST authorizer, in front of every route but GET /openapi.json.

Answers with the IAM policy of every route the caller's scopes allow and the caller in the context
(flowport.core.identity.Caller.to_context), which the functions read from `requestContext.authorizer`.
"""

from typing import Any

from flowport.startup import init_phase

with init_phase():
    from aws_lambda_powertools.logging import correlation_paths
    from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
        APIGatewayAuthorizerRequestEvent,
    )
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from flowport import services
    from flowport.aws.authorizer import UNAUTHORIZED_MESSAGE, auth_request, authorizer_response
    from flowport.core.errors import Unauthorized
    from flowport.observability import logger, observed

    services.load_use_cases("authorize")


def _handle(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    request = APIGatewayAuthorizerRequestEvent(event)
    try:
        decision = services.authorize().decide(auth_request(request))
    except Unauthorized as refused:
        # The reason only: never a header's value.
        logger.info("unauthorized", extra={"reason": refused.detail, "resource": request.resource})
        raise Exception(UNAUTHORIZED_MESSAGE) from None  # API Gateway answers 401 for this message
    logger.info("authorized", extra={"principal": decision.caller.principal_id, "resource": request.resource})
    return authorizer_response(request.method_arn, decision)


lambda_handler = observed(_handle, correlation_paths.API_GATEWAY_REST)
