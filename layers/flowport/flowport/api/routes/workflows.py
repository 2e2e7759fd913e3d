"""GET /workflows and GET /workflows/{name}: the registry's workflows and their settings, read-only.

Disabled workflows are listed too, with `enabled: false`, so a caller can tell "disabled" from "unknown".
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.request import Request

from flowport import services
from flowport.api.caller import CallerOf
from flowport.api.paths import api_base
from flowport.api.problems import problem_responses
from flowport.api.query import takes_query
from flowport.api.responses import json_response
from flowport.api.routes.params import Version, WorkflowName
from flowport.api.security import ANY_CREDENTIAL
from flowport.core.admission import limit_of
from flowport.core.identity import Caller
from flowport.core.models import WorkflowGraph, WorkflowLinks, WorkflowList, WorkflowLoad, WorkflowView
from flowport.core.registry import Registry, Workflow
from flowport.settings import get_settings

router = Router()


def workflow_view(workflow: Workflow, limit: int | None, base: str = "") -> WorkflowView:
    """A workflow's settings as the API shows them, `limit` its concurrency limit (the stack's default when
    it sets none); `base` is the stage or base path links start with."""
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
        max_concurrency=limit,
        max_queue_seconds=workflow.max_queue_seconds,
        links=WorkflowLinks(
            self_=f"{base}/workflows/{workflow.name}",
            start=f"{base}/workflows/{workflow.name}/executions",
            # A workflow name is URL-safe (registry.WorkflowName), so it goes into the query as it is.
            executions=f"{base}/executions?workflow={workflow.name}",
        ),
    )


def workflow_list(registry: Registry, caller: Caller, default_limit: int, base: str = "") -> WorkflowList:
    """Every workflow in the registry that `caller` may read, sorted by name; `default_limit` is the
    stack's concurrency limit of workflows that set none (0: none)."""
    readable = [registry[name] for name in caller.readable_workflows(sorted(registry))]
    return WorkflowList(
        workflows=[workflow_view(workflow, limit_of(workflow, default_limit), base) for workflow in readable]
    )


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
    default_limit = get_settings().default_max_concurrency
    return json_response(workflow_list(services.registry(), caller, default_limit, api_base(request)))


@router.get(
    "/workflows/<name>",
    summary="Get a workflow's settings",
    description="A disabled workflow is returned with `enabled: false`; starting it answers 403. `running` "
    "and "
    "`queued` say how many of its executions hold a slot and wait for one now.",
    responses={
        200: {"description": "The workflow", "content": {"application/json": {"model": WorkflowLoad}}},
        **problem_responses(400, 401, 403, 404),
    },
    tags=["workflows"],
    operation_id="getWorkflow",
    security=ANY_CREDENTIAL,
)
@takes_query()
def get_workflow(name: WorkflowName, request: Request, caller: CallerOf) -> Response[str]:
    load = services.read_workflows().load(name, caller)
    view = workflow_view(load.workflow, load.limit, api_base(request))
    return json_response(WorkflowLoad(**view.model_dump(), running=load.running, queued=load.queued))


@router.get(
    "/workflows/<name>/graph",
    summary="Get a workflow version's definition as a graph",
    description="Its states (nested ones name the Map or Parallel they run in) and transitions (Next, "
    "Choice rules and Default, Catch), as drawn by the console; what Tasks call is named by service and "
    "action only.",
    responses={
        200: {"description": "The graph", "content": {"application/json": {"model": WorkflowGraph}}},
        **problem_responses(400, 401, 403, 404),
    },
    tags=["workflows"],
    operation_id="getWorkflowGraph",
    security=ANY_CREDENTIAL,
)
@takes_query()
def get_workflow_graph(name: WorkflowName, caller: CallerOf, version: Version = None) -> Response[str]:
    return json_response(services.read_workflows().graph(name, version, caller))
