"""GET /workflows and GET /workflows/{name}: the registry from statemachines/, disabled ones included."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from flowport.api.apps import build_app
from flowport.api.routes import workflows
from flowport.api.security import security_schemes
from flowport.core.registry import Workflow
from flowport.local.cloud import LocalCloud
from flowport.local.functions import LocalContext

from tests.support import ADMIN, HttpResult, as_caller, caller, load_event, with_request

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(cloud: LocalCloud) -> APIGatewayRestResolver:
    """The workflows' routes over the stack in moto (a workflow's load is read from its table)."""
    return build_app(workflows.router)


def call(
    app: APIGatewayRestResolver,
    resource: str,
    path_parameters: dict[str, str] | None = None,
    change: Callable[[dict[str, Any]], dict[str, Any]] = lambda event: as_caller(event, ADMIN),
) -> HttpResult:
    """GET `resource` through `app`, from events/get-openapi.json re-pointed at the route, by an admin
    unless `change` makes it another caller's request."""
    event = load_event("get-openapi")
    event["resource"] = event["path"] = event["requestContext"]["resourcePath"] = resource
    event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{resource}"
    event = change(with_request(event, path_parameters=path_parameters))
    response: dict[str, Any] = app.resolve(
        event, LocalContext("test", 128, 3, "arn:aws:lambda:us-east-1:123456789012:function:test")
    )
    headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ", ".join(values)
    return HttpResult(response["statusCode"], headers, response.get("body") or "")


def get_workflow(app: APIGatewayRestResolver, name: str) -> HttpResult:
    return call(app, "/workflows/{name}", {"name": name})


def test_the_list_has_every_workflow_sorted_by_name_with_its_settings(app: APIGatewayRestResolver):
    response = call(app, "/workflows")
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    listed = response.json()["workflows"]
    assert [w["name"] for w in listed] == [
        "document-summary",
        "nightly-report",
        "partner-sync",
        "ticket-triage",
    ]
    by_name = {w["name"]: w for w in listed}

    triage = by_name["ticket-triage"]
    assert triage["enabled"] is True
    assert triage["versions"] == [1, 2]
    assert triage["latestVersion"] == 2
    assert triage["startByGet"] is True
    assert triage["statusVariables"] == ["queue", "slaHours"]
    assert triage["retentionHours"] == 24
    assert triage["inputSchema"]["required"] == ["subject", "customerTier"]
    assert triage["searchableInputFields"] == ["customerId"]
    assert triage["auth"] == ["apiKey"]  # the default: secure unless the workflow says otherwise
    assert "contentVariable" not in triage
    assert "maxConcurrency" not in triage  # no limit
    assert triage["maxQueueSeconds"] == 24 * 3600
    assert triage["links"] == {
        "self": "/v1/workflows/ticket-triage",
        "start": "/v1/workflows/ticket-triage/executions",
        "executions": "/v1/executions?workflow=ticket-triage",
    }

    summary = by_name["document-summary"]
    assert summary["contentVariable"] == "document"
    assert summary["statusVariables"] == ["title", "sectionCount", "wordCount"]
    assert (summary["versions"], summary["latestVersion"], summary["retentionHours"]) == ([1], 1, 72)
    assert summary["startByGet"] is False
    assert summary["inputSchema"]["properties"]["document"]["pattern"] == "\\S"  # refuses a blank body
    assert summary["searchableInputFields"] == []

    partner = by_name["partner-sync"]
    assert (partner["maxConcurrency"], partner["maxQueueSeconds"]) == (2, 3600)

    report = by_name["nightly-report"]
    assert report["enabled"] is False
    assert report["retentionHours"] == 168


def test_the_list_matches_the_settings_files(app: APIGatewayRestResolver):
    """Every key a workflow.json sets is shown with the same value."""
    listed = {w["name"]: w for w in call(app, "/workflows").json()["workflows"]}
    for settings_file in sorted((ROOT / "statemachines").glob("*/workflow.json")):
        settings = json.loads(settings_file.read_text())
        view = listed[settings_file.parent.name]
        assert {key: view[key] for key in settings} == settings


@pytest.mark.parametrize("name", ["ticket-triage", "document-summary", "nightly-report", "partner-sync"])
def test_get_one_workflow_returns_its_entry_in_the_list_with_its_load(app: APIGatewayRestResolver, name: str):
    listed = {w["name"]: w for w in call(app, "/workflows").json()["workflows"]}
    response = get_workflow(app, name)
    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {**listed[name], "running": 0, "queued": 0}


def test_a_disabled_workflow_is_shown_not_hidden(app: APIGatewayRestResolver):
    response = get_workflow(app, "nightly-report")
    assert response.status == 200
    assert response.json()["enabled"] is False


def test_an_unknown_workflow_is_a_404_problem(app: APIGatewayRestResolver):
    response = get_workflow(app, "no-such-workflow")
    assert (response.status, response.problem_code) == (404, "workflow_not_found")
    problem = response.json()
    assert problem["status"] == 404
    assert "no-such-workflow" in problem["detail"]


def test_an_overlong_name_is_a_400_problem(app: APIGatewayRestResolver):
    response = get_workflow(app, "x" * 64)
    assert (response.status, response.problem_code) == (400, "invalid_parameter")


def test_the_routes_are_documented(app: APIGatewayRestResolver):
    document = json.loads(app.get_openapi_json_schema(security_schemes=security_schemes()))
    listing = document["paths"]["/workflows"]["get"]
    one = document["paths"]["/workflows/{name}"]["get"]
    assert (listing["operationId"], listing["tags"]) == ("listWorkflows", ["workflows"])
    assert (one["operationId"], one["tags"]) == ("getWorkflow", ["workflows"])
    assert {"200", "400", "404"} <= set(one["responses"])
    assert "WorkflowView" in document["components"]["schemas"]


def test_workflow_view_is_pure_and_prefixes_links_with_the_base():
    workflow = Workflow.model_validate({"name": "demo", "versions": [3, 1]})
    view = workflows.workflow_view(workflow, None, base="/prod")
    assert json.loads(view.model_dump_json(by_alias=True, exclude_none=True)) == {
        "name": "demo",
        "description": "",
        "enabled": True,
        "versions": [1, 3],
        "latestVersion": 3,
        "statusVariables": [],
        "retentionHours": 24,
        "startByGet": False,
        "searchableInputFields": [],
        "auth": ["apiKey"],
        "maxQueueSeconds": 86400,
        "links": {
            "self": "/prod/workflows/demo",
            "start": "/prod/workflows/demo/executions",
            "executions": "/prod/executions?workflow=demo",
        },
    }


def test_a_caller_sees_only_the_workflows_in_its_scope(app: APIGatewayRestResolver):
    def as_triager(event: dict[str, Any]) -> dict[str, Any]:
        return as_caller(event, caller("p_triager000000000000", workflows=("ticket-triage",)))

    listed = call(app, "/workflows", change=as_triager).json()["workflows"]
    assert [w["name"] for w in listed] == ["ticket-triage"]
    assert call(app, "/workflows/{name}", {"name": "ticket-triage"}, change=as_triager).status == 200
    hidden = call(app, "/workflows/{name}", {"name": "document-summary"}, change=as_triager)
    unknown = call(app, "/workflows/{name}", {"name": "no-such-workflow"}, change=as_triager)
    assert (
        (hidden.status, hidden.problem_code)
        == (unknown.status, unknown.problem_code)
        == (
            404,
            "workflow_not_found",
        )
    )
    assert hidden.json()["detail"] == "No workflow named 'document-summary'"


def test_without_a_caller_the_workflows_are_not_listed(app: APIGatewayRestResolver):
    response = call(app, "/workflows", change=lambda event: {**event, "requestContext": {}})
    assert (response.status, response.problem_code) == (401, "unauthorized")
    assert "Bearer" in response.headers["www-authenticate"]
