"""Which methods each path of the API has, read from the resolvers' own routes: the `Allow` of a 405.

API Gateway sends a method a path does not have to the path's `ANY` method (template.yaml), whose function
answers 405 naming the methods the path does have. Those live in all four resolvers (a path's GET and
DELETE may be two functions'), so the table is built from every one of them, once, on the first 405.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

# API Gateway REST's methods, in the order an Allow header lists them. `ANY` stands for all of these.
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _template_path(rule: str) -> str:
    """Powertools' `/executions/<executionId>` as API Gateway's resource `/executions/{executionId}`."""
    return re.sub(r"<(\w+)>", r"{\1}", rule)


@cache
def methods_by_path() -> Mapping[str, tuple[str, ...]]:
    """Every path of the API, as API Gateway names its resources, and the methods routed on it."""
    from flowport.api.apps import ALL_APPS

    found: dict[str, set[str]] = {}
    for app in ALL_APPS:
        resolver = app()
        # Powertools keeps its routes in these two lists (no public accessor); tests/test_template.py
        # checks that this table is the template's routes and the OpenAPI document's operations.
        for route in resolver._static_routes + resolver._dynamic_routes:
            found.setdefault(_template_path(route.path), set()).add(route.method.upper())
    return {path: tuple(m for m in HTTP_METHODS if m in methods) for path, methods in found.items()}


def allowed_methods(resource: str) -> tuple[str, ...]:
    """The methods of one path (API Gateway's `resource`); none for a path the API does not have."""
    return methods_by_path().get(resource, ())
