"""One resolver per Lambda function, each including only that function's routes.

A router is included in exactly one resolver; `/openapi.json` merges the documents of all of them, so the
deployed API, its OpenAPI document and the local server all come from these same routes.
"""

from __future__ import annotations

from functools import cache

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from flowport import services
from flowport.api import problems, query
from flowport.core.errors import FlowportError


def build_app(*routers: Router) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    app.exception_handler(FlowportError)(problems.problem_response)
    app.exception_handler(RequestValidationError)(
        lambda error: problems.invalid_parameters(error, query.refusals(app))
    )
    app.exception_handler(RequestUnsupportedContentType)(problems.unsupported_body)
    # Powertools decodes a base64 body as UTF-8 before the JSON parse that would refuse it.
    app.exception_handler(UnicodeDecodeError)(problems.undecodable_body)
    app.not_found(lambda _: problems.route_not_found(app.current_event))
    app.use([query.checked_query])
    for router in routers:
        app.include_router(router)
    return app


@cache
def start_app() -> APIGatewayRestResolver:
    from flowport.api.routes import retry, start

    services.load_use_cases("start", "retry")
    return build_app(start.router, retry.router)


@cache
def status_app() -> APIGatewayRestResolver:
    from flowport.api.routes import docs, history, me, search, status, workflows

    services.load_use_cases("read", "search", "workflows")
    return build_app(status.router, history.router, search.router, workflows.router, me.router, docs.router)


@cache
def cancel_app() -> APIGatewayRestResolver:
    from flowport.api.routes import cancel

    services.load_use_cases("cancel")
    return build_app(cancel.router)


@cache
def stream_app() -> APIGatewayRestResolver:
    from flowport.api.routes import events

    services.load_use_cases("read")
    return build_app(events.router)


@cache
def admin_app() -> APIGatewayRestResolver:
    from flowport.api.routes import admin

    services.load_use_cases("admin")
    return build_app(admin.router)


@cache
def conductor_app() -> APIGatewayRestResolver:
    """Conductor's workflow resource under /api: flowport's own use cases, Conductor's documents."""
    from flowport.api.conductor import build_conductor_app
    from flowport.api.routes import conductor

    services.load_use_cases("start", "read", "cancel", "retry", "search")
    return build_conductor_app(conductor.router)


@cache
def console_app() -> APIGatewayRestResolver:
    """The web console's static files (flowport.api.routes.console)."""
    from flowport.api.routes import console

    return build_app(console.router)


@cache
def deliveries_app() -> APIGatewayRestResolver:
    from flowport.api.routes import deliveries

    services.load_use_cases("deliveries")
    return build_app(deliveries.router)


ALL_APPS = (
    start_app,
    status_app,
    cancel_app,
    stream_app,
    admin_app,
    conductor_app,
    console_app,
    deliveries_app,
)
