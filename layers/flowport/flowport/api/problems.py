"""RFC 9457 problem responses, for every error a route can raise, in one place."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from flowport.api.methods import allowed_methods
from flowport.api.responses import json_body
from flowport.core import query
from flowport.core.errors import (
    FlowportError,
    InvalidParameter,
    MalformedJson,
    MethodNotAllowed,
    RouteNotFound,
    UnsupportedMediaType,
)
from flowport.core.models import FieldProblem, Problem

PROBLEM_JSON = "application/problem+json"


def problem_response(error: FlowportError) -> Response[str]:
    problem = Problem(
        title=error.title, status=error.status, detail=error.detail, code=error.code, **error.extensions
    )
    return Response(
        status_code=error.status,
        content_type=PROBLEM_JSON,
        body=json_body(problem),
        headers=error.headers,
    )


def invalid_parameters(error: RequestValidationError, query_refusals: list[FieldProblem]) -> Response[str]:
    return problem_response(validation_error(error, query_refusals))


def validation_error(error: RequestValidationError, query_refusals: list[FieldProblem]) -> FlowportError:
    """Powertools' validation failed. A query parameter refused as repeated or unknown (flowport.api.query)
    is named for that: a repeated one reaches the validation as a list, "not a valid integer"."""
    if any(detail.get("type") == "json_invalid" for detail in error.errors()):
        # A body Powertools parses for a route's model (the admin routes): not JSON is malformed_json, as
        # for a start; the position is enough, the body itself may hold a password.
        return MalformedJson("The request body is not valid JSON")
    refused = {problem.field for problem in query_refusals}
    others = [problem for problem in map(_field_problem, error.errors()) if problem.field not in refused]
    if query_refusals:
        return query.refused(query_refusals, others)
    names = ", ".join(map(_named, others))
    return InvalidParameter(f"Invalid request parameter(s): {names}", errors=others)


def undecodable_body(_: UnicodeDecodeError) -> Response[str]:
    """A body Powertools parses as JSON (the admin routes'), that is not UTF-8 (RFC 8259 §8.1)."""
    return problem_response(MalformedJson("The request body is not UTF-8, so not JSON"))


def unsupported_body(_: Exception) -> Response[str]:
    """A route whose body Powertools parses takes JSON (and forms); any other media type is 415."""
    return problem_response(UnsupportedMediaType("The request body must be application/json"))


def _field_problem(detail: dict[str, Any]) -> FieldProblem:
    location = [str(part) for part in detail.get("loc", ())]
    message = str(detail.get("msg", "invalid value"))
    if detail.get("type") == "string_too_short" and detail.get("input") == "":
        # "At least 1 character" is true, but what the client did is send the header or parameter empty.
        message = f"{EMPTY}: send a value, or leave it out"
    return FieldProblem(field="/" + "/".join(location), message=message)


EMPTY = "empty"


def _named(problem: FieldProblem) -> str:
    return f"{problem.field} ({EMPTY})" if problem.message.startswith(f"{EMPTY}:") else problem.field


def route_not_found(event: APIGatewayProxyEvent) -> Response[str]:
    """No route of this function matched: a method the path does not have is 405, naming those it has.

    Behind API Gateway a function gets only methods its template routes to it; a path's `ANY` method
    (template.yaml) brings here the ones the path does not have."""
    allowed = allowed_methods(event.resource)
    method = event.http_method.upper()
    if allowed and method not in allowed:
        return problem_response(
            MethodNotAllowed(f"{event.resource} answers {', '.join(allowed)}, not {method}", allow=allowed)
        )
    return problem_response(RouteNotFound("No such route; see /openapi.json for the routes of this API"))


def problem_responses(*statuses: int) -> dict[int, OpenAPIResponse]:
    """OpenAPI entries for the problem documents a route can answer with."""
    responses: dict[int, OpenAPIResponse] = {}
    for status in statuses:
        responses[status] = {
            "description": DESCRIPTIONS[status],
            "content": {PROBLEM_JSON: {"model": Problem}},
        }
        if status == 401:
            responses[status]["headers"] = {
                "WWW-Authenticate": {"description": "The accepted schemes", "schema": {"type": "string"}}
            }
        if status == 405:
            responses[status]["headers"] = {
                "Allow": {"description": "The methods the path has (RFC 9110)", "schema": {"type": "string"}}
            }
    return responses


DESCRIPTIONS = {
    400: "Malformed JSON or form, non-object input, or a bad, unknown or repeated query or header value",
    401: "No credentials, or ones that are wrong, expired or revoked; `WWW-Authenticate` names the schemes",
    403: "The credentials' scopes do not allow this action (on this workflow), or the workflow is disabled",
    404: "Unknown workflow, version, execution (or one out of the caller's scope), principal or API key",
    405: "The workflow is not started by GET (it did not opt in with startByGet): an empty `Allow`",
    406: "No acceptable representation",
    409: "Conflicts with an existing execution, a request still in flight, a principal's keys or user names",
    413: "Request body or input over 256 KiB",
    415: "Body of a media type the route (or the workflow) does not take",
    422: "Input fails the workflow's schema, or an idempotency key was reused for another request",
    503: "AWS was briefly unavailable; retry after the Retry-After header's seconds",
}
