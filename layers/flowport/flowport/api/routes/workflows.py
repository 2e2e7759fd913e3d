"""GET /workflows and GET /workflows/{name}: the registry's workflows and their settings, read-only.

Disabled workflows are listed too, with `enabled: false`, so a caller can tell "disabled" from "unknown".
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.request import Request

from flowport.api.caller import CallerOf
from flowport.api.paths import api_base
from flowport.api.problems import problem_responses
from flowport.api.query import takes_query
from flowport.api.responses import json_response
from flowport.api.security import ANY_CREDENTIAL
from flowport.core.identity import Caller
from flowport.core.models import WorkflowLinks, WorkflowList, WorkflowView
from flowport.core.registry import Registry, Workflow, load_registry
from flowport.settings import get_settings

router = Router()

WorkflowName = Annotated[str, Path(min_length=1, max_length=63, description="The workflow's name")]


def workflow_view(workflow: Workflow, base: str = "") -> WorkflowView:
    """A workflow's settings as the API shows them; `base` is the stage or base path links start with."""
    return WorkflowView(
        name=workflow.name,
        description=workflow.description,
        enabled=workflow.enabled,
        versions=list(workflow.versions),
        latest_version=workflow.latest_version,
        status_variables=list(workflow.status_variables),
        content_variable=workflow.content_variable,
        input_schema=workflow.input_schema,
        retention_hours=workflow.retention_hours,
        start_by_get=workflow.start_by_get,
        searchable_input_fields=list(workflow.searchable_input_fields),
        auth=list(workflow.auth),
        links=WorkflowLinks(
            self_=f"{base}/workflows/{workflow.name}",
            start=f"{base}/workflows/{workflow.name}/executions",
            # A workflow name is URL-safe (registry.WorkflowName), so it goes into the query as it is.
            executions=f"{base}/executions?workflow={workflow.name}",
        ),
    )


def workflow_list(registry: Registry, caller: Caller, base: str = "") -> WorkflowList:
    """Every workflow in the registry that `caller` may read, sorted by name."""
    readable = caller.readable_workflows(sorted(registry))
    return WorkflowList(workflows=[workflow_view(registry[name], base) for name in readable])


def _registry() -> Registry:
    return load_registry(get_settings().workflows_path)


@router.get(
    "/workflows",
    summary="List the workflows",
    description="Every workflow the caller may read, sorted by name; disabled ones are included with "
    "`enabled: false`.",
    responses={
        200: {"description": "The workflows", "content": {"application/json": {"model": WorkflowList}}},
        **problem_responses(401, 403),
    },
    tags=["workflows"],
    operation_id="listWorkflows",
    security=ANY_CREDENTIAL,
)
@takes_query()
def list_workflows(request: Request, caller: CallerOf) -> Response[str]:
    return json_response(workflow_list(_registry(), caller, api_base(request)))


@router.get(
    "/workflows/<name>",
    summary="Get a workflow's settings",
    description="A disabled workflow is returned with `enabled: false`; starting it answers 403.",
    responses={
        200: {"description": "The workflow", "content": {"application/json": {"model": WorkflowView}}},
        **problem_responses(400, 401, 403, 404),
    },
    tags=["workflows"],
    operation_id="getWorkflow",
    security=ANY_CREDENTIAL,
)
@takes_query()
def get_workflow(name: WorkflowName, request: Request, caller: CallerOf) -> Response[str]:
    return json_response(workflow_view(_registry().find(name, caller), api_base(request)))
