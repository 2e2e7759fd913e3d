"""Errors under /api in Conductor's own shape, `{status, code, message, retryable}`: Conductor's clients
read `message` (its SDK raises it as ApiException.message), not a problem document.

The same FlowportErrors as everywhere else decide status and code (flowport.core.errors); only the
document differs. A path or method under /api that flowport lacks answers 501, naming the alternative.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from flowport.api import problems, query
from flowport.api.methods import allowed_methods
from flowport.api.responses import json_body
from flowport.core import conductor
from flowport.core.errors import (
    FlowportError,
    MalformedJson,
    MethodNotAllowed,
    NotImplementedByFlowport,
    RouteNotFound,
    UnsupportedMediaType,
)
from flowport.core.models import FieldProblem

API_PREFIX = "/api"


def error_response(error: FlowportError) -> Response[str]:
    message = error.detail
    field_problems = error.extensions.get("errors") or []
    if field_problems:
        # Conductor's document has no list of field errors: each is named in the message.
        message += ": " + "; ".join(_described(problem) for problem in field_problems)
    document = conductor.error_of(error.status, error.code, message)
    return Response(
        status_code=error.status,
        content_type="application/json",
        body=json_body(document),
        headers=error.headers,
    )


def _described(problem: FieldProblem | dict[str, str]) -> str:
    """A field problem as text: its JSON Pointer ('' for the whole input) and what is wrong there."""
    if isinstance(problem, FieldProblem):
        field, message = problem.field, problem.message
    else:
        field, message = problem.get("field", ""), problem.get("message", "")
    return f"{field} {message}" if field else message


def unknown_route(event: APIGatewayProxyEvent) -> Response[str]:
    """A path of this API's /api with another method: 405 naming its methods; with its own method but a
    value its route refuses, 404 as on flowport's routes. Any other path under /api (the catch-all route
    brings it here): 501, naming what flowport offers instead."""
    allowed = allowed_methods(event.resource)
    method = event.http_method.upper()
    if allowed and method not in allowed:
        return error_response(
            MethodNotAllowed(f"{event.resource} answers {', '.join(allowed)}, not {method}", allow=allowed)
        )
    if allowed:
        # One of this API's paths and methods, whose values no route takes (an id of other characters).
        return error_response(RouteNotFound(f"No such route: {event.path}; see /openapi.json"))
    below_api = event.path.removeprefix(API_PREFIX) if event.path.startswith(API_PREFIX + "/") else event.path
    return error_response(
        NotImplementedByFlowport(
            f"{method} {event.path} is not implemented by flowport: {conductor.alternative_to(below_api)}"
        )
    )


def build_conductor_app(*routers: Router) -> APIGatewayRestResolver:
    """flowport.api.apps.build_app, with Conductor's error document instead of problem documents."""
    app = APIGatewayRestResolver(enable_validation=True)
    app.exception_handler(FlowportError)(error_response)
    app.exception_handler(RequestValidationError)(
        lambda error: error_response(problems.validation_error(error, query.refusals(app)))
    )
    app.exception_handler(RequestUnsupportedContentType)(
        lambda _: error_response(UnsupportedMediaType("The request body must be application/json"))
    )
    app.exception_handler(UnicodeDecodeError)(
        lambda _: error_response(MalformedJson("The request body is not UTF-8, so not JSON"))
    )
    app.not_found(lambda _: unknown_route(app.current_event))
    app.use([query.checked_query])
    for router in routers:
        app.include_router(router)
    return app
