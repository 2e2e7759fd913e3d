"""The caller of a request, as API Gateway's authorizer vouched for it: routes take it as a dependency.

Read from `requestContext.authorizer` only, never from the request's own headers: behind API Gateway
only the authorizer can write it, and locally only the local gateway (flowport.local.gateway).
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.depends import Depends
from aws_lambda_powertools.event_handler.request import Request

from flowport.core.identity import Caller


def caller_of(request: Request) -> Caller:
    context = request.resolved_event.raw_event.get("requestContext") or {}
    return Caller.from_context(context.get("authorizer"))


CallerOf = Annotated[Caller, Depends(caller_of)]
