"""GET /openapi.json: generated from the routes, covering every route of the template."""

from __future__ import annotations

from unittest.mock import ANY

from flowport.local.template import Stack

from tests.support import Api, load_event


def test_the_document_lists_every_route_of_the_template(api: Api, stack: Stack):
    response = api.call(load_event("get-openapi"))
    assert response.status == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    # ANY routes are not operations: they answer a method a path lacks with 405 (tests/test_template.py).
    assert documented == {(route.method, route.path) for route in stack.routes if route.method != "ANY"}


def test_start_documents_its_parameters_body_responses_and_problems(api: Api):
    document = api.call(load_event("get-openapi")).json()
    start = document["paths"]["/workflows/{name}/executions"]["post"]
    parameters = {(p["in"], p["name"]) for p in start["parameters"]}
    assert {
        ("path", "name"),
        ("query", "version"),
        ("query", "correlationId"),
        ("query", "priority"),
        ("header", "idempotency-key"),
        ("header", "x-on-conflict"),
    } <= parameters
    assert set(start["requestBody"]["content"]) == {
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
    }
    assert {"200", "202", "400", "403", "404", "409", "413", "422", "503"} <= set(start["responses"])
    problem = start["responses"]["409"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert {"code", "status", "title", "detail"} <= set(
        document["components"]["schemas"]["Problem"]["properties"]
    )


def test_every_answer_a_route_gives_is_documented_as_schemathesis_reads_it(api: Api):
    """What fuzzing found: GET start's 405 was undocumented, and each SSE event was described as a string
    where OpenAPI 3.1 tools read the event-stream schema as that of one parsed event."""
    document = api.call(load_event("get-openapi")).json()
    by_get = document["paths"]["/workflows/{name}/start"]["get"]["responses"]
    assert by_get["405"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert "405" not in document["paths"]["/workflows/{name}/executions"]["post"]["responses"]
    events = document["paths"]["/executions/{executionId}/events"]["get"]["responses"]["200"]["content"]
    event = events["text/event-stream"]["schema"]
    assert event["type"] == "object"
    assert {"node_started", "progress", "completed"} <= set(event["properties"]["event"]["enum"])


PUBLIC_PATHS = ("/openapi.json", "/console", "/console/{asset}")
START_PATHS = ("/workflows/{name}/executions", "/workflows/{name}/start")


def test_the_security_schemes_and_each_operations_requirement_are_declared(api: Api):
    document = api.call(load_event("get-openapi")).json()
    assert document["components"]["securitySchemes"] == {
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": ANY},
        "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "fpk_", "description": ANY},
        "basic": {"type": "http", "scheme": "basic", "description": ANY},
    }
    alternatives = [{"apiKey": []}, {"bearer": []}, {"basic": []}]
    assert "security" not in document  # no requirement for the whole API: /openapi.json is public
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path == "/api/token":  # Conductor's exchange, called before there is a token
                assert "security" not in operation
                continue
            if path in PUBLIC_PATHS:
                assert "security" not in operation
                assert "401" not in operation["responses"]
                continue
            assert operation["security"] == alternatives, (method, path)
            unauthorized = operation["responses"]["401"]
            assert "WWW-Authenticate" in unauthorized["headers"], (method, path)
            if path in START_PATHS:  # the workflow's `auth` narrows them
                assert "`auth`" in operation["description"], (method, path)


def test_the_admin_routes_document_their_bodies_and_answers(api: Api):
    paths = api.call(load_event("get-openapi")).json()["paths"]
    created = paths["/admin/principals"]["post"]
    assert created["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NewPrincipal"
    }
    assert {"201", "400", "401", "403", "415"} <= set(created["responses"])
    issued = paths["/admin/principals/{principalId}/keys"]["post"]["responses"]["201"]
    assert issued["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/IssuedKey"}
    assert {"404", "409"} <= set(paths["/admin/principals/{principalId}/keys"]["post"]["responses"])
    assert "204" in paths["/admin/keys/{keyId}"]["delete"]["responses"]


def test_a_204_answer_is_documented_without_content(api: Api):
    """RFC 9110: a 204 has no content, so it has no media type either (schemathesis holds answers to it)."""
    document = api.call(load_event("get-openapi")).json()
    no_content = [
        (path, method, operation["responses"]["204"])
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "204" in operation["responses"]
    ]
    assert len(no_content) >= 3  # the stream's end, a key revoked, a principal deleted
    assert all("content" not in response for _, _, response in no_content), no_content
