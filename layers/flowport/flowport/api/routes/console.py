"""GET /console and GET /console/{asset}: the web console, static files served by its own function.

Public, like /openapi.json: the files hold no data and no secret. The console then calls the API from
the same origin with the key its user enters (kept in the tab's sessionStorage), so the API needs no CORS.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from aws_lambda_powertools.event_handler.request import Request

from flowport.api.assets import ASSET_NAME, SECURITY_HEADERS, assets_in, not_modified
from flowport.api.paths import api_base
from flowport.api.problems import problem_responses
from flowport.api.query import takes_query
from flowport.core.errors import ConsoleFileNotFound
from flowport.settings import get_settings

router = Router()

INDEX = "index.html"
AssetName = Annotated[
    str, Path(min_length=1, max_length=64, pattern=ASSET_NAME.pattern, description="A file of the console")
]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match", max_length=1024)]


@router.get(
    "/console",
    summary="Open the web console",
    description="Redirects to the console's page, whose files are relative to it.",
    responses={
        308: {
            "description": "To the console's page",
            "headers": {"Location": {"description": "The page", "schema": {"type": "string"}}},
        }
    },
    tags=["console"],
    operation_id="openConsole",
)
@takes_query()
def open_console(request: Request) -> Response[str]:
    location = f"{api_base(request)}/console/{INDEX}"
    return Response(status_code=308, body="", headers={**SECURITY_HEADERS, "Location": location})


@router.get(
    "/console/<asset>",
    summary="A file of the web console",
    description="HTML, CSS and JavaScript, each with an ETag (If-None-Match gets a 304) and a "
    "Content-Security-Policy that runs scripts of this origin only.",
    responses={
        200: {
            "description": "The file",
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "text/javascript": {"schema": {"type": "string"}},
                "text/css": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        },
        304: {"description": "The client's copy is current"},
        **problem_responses(400, 404),
    },
    tags=["console"],
    operation_id="getConsoleFile",
)
@takes_query()
def get_console_file(asset: AssetName, if_none_match: IfNoneMatch = None) -> Response[str]:
    found = assets_in(get_settings().console_path).get(asset)
    if found is None:
        raise ConsoleFileNotFound(f"The console has no file '{asset}'")
    headers = {**SECURITY_HEADERS, "ETag": found.etag}
    if not_modified(found, if_none_match):
        return Response(status_code=304, body="", headers=headers)
    return Response(status_code=200, content_type=found.media_type, body=found.body, headers=headers)
