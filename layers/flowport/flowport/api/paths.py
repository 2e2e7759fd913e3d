"""Links in responses must work behind API Gateway's stage or a custom domain's base path."""

from __future__ import annotations

from typing import TypeVar

from aws_lambda_powertools.event_handler.request import Request

from flowport.core import status
from flowport.core.models import ExecutionSummary

Summary = TypeVar("Summary", bound=ExecutionSummary)


def api_base(request: Request) -> str:
    """The prefix the client used before the route's path: `/v1` for a REST API's stage, else ''."""
    event = request.resolved_event
    full_path = str((event.raw_event.get("requestContext") or {}).get("path") or "")
    route_path = event.path
    if route_path and full_path.endswith(route_path):
        return full_path[: -len(route_path)]
    return ""


def with_links(execution: Summary, request: Request) -> Summary:
    return execution.model_copy(update={"links": status.links(execution.execution_id, api_base(request))})
