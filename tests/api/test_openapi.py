"""GET /openapi.json: generated from the routes, covering every route of the template."""

from __future__ import annotations

from flowport.local.template import Stack

from tests.support import Api, load_event


def test_the_document_lists_every_route_of_the_template(api: Api, stack: Stack):
    response = api.call(load_event("get-openapi"))
    assert response.status == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert documented == {(route.method, route.path) for route in stack.routes}


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
    assert set(start["requestBody"]["content"]) == {"application/json", "text/plain"}
    assert {"200", "202", "400", "403", "404", "409", "413", "422", "503"} <= set(start["responses"])
    problem = start["responses"]["409"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert {"code", "status", "title", "detail"} <= set(
        document["components"]["schemas"]["Problem"]["properties"]
    )
