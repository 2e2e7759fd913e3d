"""GET /openapi.json: the OpenAPI document of every route, generated from the routes themselves."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

from flowport import __version__
from flowport.api.query import takes_query
from flowport.api.security import security_schemes

router = Router()

DESCRIPTION = (
    "Start long-running workflows asynchronously, read their status and result, and cancel them. "
    "Errors are RFC 9457 problem documents (application/problem+json) with a stable `code`."
)
# Routes that read the body themselves (its media type depends on the workflow) get their body described here.
_REQUEST_BODIES = {
    ("/workflows/{name}/executions", "post"): {
        "required": False,
        "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": True}},
            # An HTML form: its fields, typed by the input schema (a body that starts with { is JSON).
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            },
            "text/plain": {"schema": {"type": "string"}},
        },
        "description": "The workflow input: a JSON object, or an HTML form's fields; any text for a workflow "
        "with a content variable",
    }
}


@cache
def openapi_document() -> dict[str, Any]:
    from flowport.api.apps import ALL_APPS

    merge = OpenAPIMerge(title="flowport", version=__version__, description=DESCRIPTION, on_conflict="error")
    schemes = security_schemes()
    for app in ALL_APPS:  # each one's document must declare the schemes its routes' `security` names
        merge.add_schema(json.loads(app().get_openapi_json_schema(security_schemes=schemes)))
    document = merge.get_openapi_schema()
    for (path, method), body in _REQUEST_BODIES.items():
        document["paths"][path][method]["requestBody"] = body
    _drop_powertools_validation_responses(document)
    _no_content_in_bodiless_answers(document)
    _gateway_refusals(document)
    return document


def _gateway_refusals(document: dict[str, Any]) -> None:
    """What API Gateway refuses before any route is matched can be any route's answer: a request line and
    headers over 10 KB together (a long query, a large `nextToken` or header), 431 locally."""
    refusal = {
        "description": "The request line and headers are over 10 KB together: refused before any route runs",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for operations in document["paths"].values():
        for operation in operations.values():
            operation.setdefault("responses", {}).setdefault("431", refusal)


# Answers without content: No Content, Not Modified, and the console's redirect (RFC 9110 §15.3.5, §15.4.5).
BODILESS = ("204", "304", "308")


def _no_content_in_bodiless_answers(document: dict[str, Any]) -> None:
    """Powertools gives every response the handler's return type as JSON; these have no content, and
    their answers carry no Content-Type."""
    for operations in document["paths"].values():
        for operation in operations.values():
            for status in BODILESS:
                operation.get("responses", {}).get(status, {}).pop("content", None)


def _drop_powertools_validation_responses(document: dict[str, Any]) -> None:
    """Powertools documents a 422 of its own on every route; flowport answers bad parameters with a 400
    problem document instead (declared on each route), so those entries would describe nothing real."""
    powertools_schemas = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
    for operations in document["paths"].values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            for status, response in list(responses.items()):
                if any(name in json.dumps(response) for name in powertools_schemas):
                    del responses[status]
    for name in powertools_schemas:
        document.get("components", {}).get("schemas", {}).pop(name, None)


@router.get("/openapi.json", summary="This API's OpenAPI document", tags=["meta"], operation_id="getOpenApi")
@takes_query()
def get_openapi() -> Response[str]:
    return Response(status_code=200, content_type="application/json", body=json.dumps(openapi_document()))
