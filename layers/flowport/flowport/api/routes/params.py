"""Parameters shared by several routes, declared once so the OpenAPI document describes them the same."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from flowport.core import tokens

WorkflowName = Annotated[str, Path(min_length=1, max_length=63, description="The workflow's name")]
Version = Annotated[int | None, Query(ge=1, le=1_000_000, description="Workflow version; latest if absent")]

ExecutionIdPath = Annotated[
    str,
    Path(
        alias="executionId",
        min_length=1,
        max_length=80,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The execution id returned when the execution was started",
    ),
]

NextToken = Annotated[
    str | None,
    Query(
        alias="nextToken",
        min_length=1,
        max_length=tokens.MAX_TOKEN_LENGTH,
        description="The previous page's nextToken",
    ),
]
