"""The local API Gateway: routing, the proxy event it builds, and the response it makes of a result."""

from __future__ import annotations

import base64
import json

from flowport.local.gateway import HttpRequest, LocalApiGateway, http_response, proxy_event
from flowport.local.template import ApiRoute, Stack

from tests.support import load_event


def test_every_template_route_is_served_and_path_parameters_are_decoded(stack: Stack):
    gateway = LocalApiGateway(stack)
    for route, function in stack.routes.items():
        concrete = route.path.replace("{name}", "ticket-triage").replace("{executionId}", "abc")
        matched = gateway.match(route.method, concrete)
        assert matched is not None, route
        assert matched[0].function is function
    found = gateway.match("GET", "/executions/a%2Fb")
    assert found is not None
    assert found[1] == {"executionId": "a/b"}
    assert gateway.match("GET", "/executions/abc/extra") is None


def test_a_method_a_path_lacks_goes_to_its_any_route_as_in_api_gateway(stack: Stack):
    gateway = LocalApiGateway(stack)
    explicit = gateway.match("DELETE", "/executions/abc")
    assert explicit is not None
    assert (explicit[0].route.method, explicit[0].function.logical_id) == ("DELETE", "CancelFunction")
    other = gateway.match("PUT", "/executions/abc")
    assert other is not None
    assert (other[0].route, other[1]) == (
        ApiRoute("ANY", "/executions/{executionId}"),
        {"executionId": "abc"},
    )
    assert gateway.match("TRACE", "/executions/abc") is None  # not a method API Gateway has
    assert gateway.match("PUT", "/no/such/path") is None


def test_the_proxy_event_has_the_shape_api_gateway_sends():
    request = HttpRequest(
        "POST",
        "/workflows/ticket-triage/executions?priority=5&tag=a&tag=b",
        [("Content-Type", "application/json"), ("X-Many", "1"), ("X-Many", "2")],
        b'{"a": 1}',
    )
    event = proxy_event(request, ApiRoute("POST", "/workflows/{name}/executions"), {"name": "ticket-triage"})
    reference = load_event("start-execution")
    assert set(reference) <= set(event)
    # The authorizer's part is the local authorizer's to add (tests/local/test_authorizer.py).
    expected = set(reference["requestContext"]) - {"identity", "authorizer"}
    assert expected <= set(event["requestContext"]) | {"resourceId"}
    assert event["queryStringParameters"] == {"priority": "5", "tag": "b"}
    assert event["multiValueQueryStringParameters"] == {"priority": ["5"], "tag": ["a", "b"]}
    assert event["multiValueHeaders"]["X-Many"] == ["1", "2"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    assert event["pathParameters"] == {"name": "ticket-triage"}
    assert event["requestContext"]["requestId"]


def test_binary_bodies_arrive_base64_encoded():
    request = HttpRequest("POST", "/x", [], b"\xff\xd8\xff")
    event = proxy_event(request, ApiRoute("POST", "/x"), {})
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xd8\xff"


def test_results_become_responses_with_every_header_and_cookie():
    response = http_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain"},
            "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
            "body": base64.b64encode(b"\x00\x01").decode(),
            "isBase64Encoded": True,
        }
    )
    assert response.status == 201
    assert ("Set-Cookie", "a=1") in response.headers
    assert ("Set-Cookie", "b=2") in response.headers
    assert response.body == b"\x00\x01"


def test_a_malformed_result_is_a_502_problem_as_in_api_gateway():
    response = http_response({"body": "no status code"})
    assert response.status == 502
    assert json.loads(response.body)["code"] == "bad_gateway"


def test_a_path_of_its_own_wins_over_a_variable_and_any_path_over_a_greedy_one(stack: Stack):
    """As API Gateway picks: /api/workflow/search before /api/workflow/{workflowId}, and /api/{proxy+}
    only for a path no other route has (Conductor's endpoints that flowport lacks)."""
    gateway = LocalApiGateway(stack)
    search = gateway.match("GET", "/api/workflow/search")
    assert search is not None
    assert (search[0].route.path, search[1]) == ("/api/workflow/search", {})
    workflow = gateway.match("PUT", "/api/workflow/abc")
    assert workflow is not None
    assert (workflow[0].route, workflow[1]) == (
        ApiRoute("ANY", "/api/workflow/{workflowId}"),
        {"workflowId": "abc"},
    )
    pause = gateway.match("PUT", "/api/workflow/abc/pause")
    assert pause is not None
    assert (pause[0].route, pause[1]) == (ApiRoute("ANY", "/api/{proxy+}"), {"proxy": "workflow/abc/pause"})
