"""JSON bodies, the same way for every route: camelCase, and a field without a value left out.

"Absent, never null" is one convention for every answer (start, replay, status, search, cancel, history,
workflows, problems, the event stream's documents); the OpenAPI schemas say the same
(flowport.core.models.ApiModel). Values that are the client's or the workflow's own JSON (`input`,
`output`, `statusVariables`) are kept as they are, nulls inside them included.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel

JSON = "application/json"


def json_body(model: BaseModel) -> str:
    return model.model_dump_json(by_alias=True, exclude_none=True)


def json_response(
    model: BaseModel,
    status: int = 200,
    *,
    content_type: str = JSON,
    headers: Mapping[str, str] | None = None,
) -> Response[str]:
    return Response(
        status_code=status, content_type=content_type, body=json_body(model), headers=dict(headers or {})
    )
