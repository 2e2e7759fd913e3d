"""GET /me: who the credential of the request is, and its scopes. It reads the caller the authorizer
vouched for and nothing else: no AWS call."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from flowport.api.caller import CallerOf
from flowport.api.problems import problem_responses
from flowport.api.query import takes_query
from flowport.api.responses import json_response
from flowport.api.security import ANY_CREDENTIAL
from flowport.core.errors import Unauthorized
from flowport.core.principals import CallerView

router = Router()


@router.get(
    "/me",
    summary="Who this credential is, and what it may do",
    description="The principal the request's credential belongs to, with its scopes: the workflows and "
    "actions it is allowed. A client offers only what these allow; the API checks every request anyway.",
    responses={
        200: {"description": "The caller", "content": {"application/json": {"model": CallerView}}},
        **problem_responses(401, 403),
    },
    tags=["meta"],
    operation_id="getCaller",
    security=ANY_CREDENTIAL,
)
@takes_query()
def get_caller(caller: CallerOf) -> Response[str]:
    if caller.anonymous:  # the authorizer lets no anonymous caller here; a direct invocation could
        raise Unauthorized("GET /me needs credentials: an API key or a user name and password")
    return json_response(
        CallerView(
            principal_id=caller.principal_id, name=caller.name, auth_mode=caller.mode, scopes=caller.scopes
        )
    )
