"""API Gateway's part, locally: match a request to a route of the template, build the REST API (payload
1.0) proxy event Lambda would get, and turn the function's result back into an HTTP response."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from flowport.api.methods import HTTP_METHODS
from flowport.local.template import LOCAL_ACCOUNT, ApiRoute, FunctionSpec, GatewayResponse, Stack

LOCAL_STAGE = "local"
# The status API Gateway gives a response type whose GatewayResponses entry sets none.
DEFAULT_STATUS = {"UNAUTHORIZED": 401, "ACCESS_DENIED": 403, "AUTHORIZER_FAILURE": 500}
ANY = "ANY"  # a template route's method that takes every method of HTTP_METHODS the path has no route for


@dataclass(frozen=True)
class CompiledRoute:
    route: ApiRoute
    function: FunctionSpec
    pattern: re.Pattern[str]

    @classmethod
    def of(cls, route: ApiRoute, function: FunctionSpec) -> CompiledRoute:
        regex = ""
        for part in re.split(r"(\{[^}]+\})", route.path):
            if part.startswith("{") and part.endswith("+}"):
                regex += f"(?P<{part[1:-2]}>.+)"
            elif part.startswith("{"):
                regex += f"(?P<{part[1:-1]}>[^/]+)"
            else:
                regex += re.escape(part)
        return cls(route, function, re.compile(f"^{regex}$"))


@dataclass
class HttpRequest:
    method: str
    target: str  # path and query, as sent
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str = "127.0.0.1"


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class LocalApiGateway:
    def __init__(self, stack: Stack) -> None:
        # API Gateway prefers a path's own resource to one with a variable there (/api/workflow/search
        # over /api/workflow/{workflowId}), and any resource to a greedy {proxy+}: fewest variables first.
        self._routes = sorted(
            (CompiledRoute.of(route, function) for route, function in stack.routes.items()),
            key=lambda compiled: ("+}" in compiled.route.path, compiled.route.path.count("{")),
        )
        self._responses = {
            kind: r for api in stack.apis.values() for kind, r in api.gateway_responses.items()
        }

    def response(self, kind: str, message: str) -> HttpResponse:
        """API Gateway's own answer of this type, as the template's GatewayResponses shape it: its entry,
        else DEFAULT_4XX or DEFAULT_5XX with the type's own status, else API Gateway's bare default."""
        status = DEFAULT_STATUS.get(kind, 500)
        default = self._responses.get("DEFAULT_4XX" if status < 500 else "DEFAULT_5XX")
        entry = self._responses.get(kind) or default or GatewayResponse(None, {}, None)
        document = (
            entry.template if entry.template is not None else '{"message":$context.error.messageString}'
        )
        body = document.replace("$context.error.messageString", json.dumps(message))
        headers = {"Content-Type": "application/json", **entry.headers}
        return HttpResponse(entry.status or status, list(headers.items()), body.encode())

    def match(self, method: str, path: str) -> tuple[CompiledRoute, dict[str, str]] | None:
        """The route API Gateway would pick: the path's own method first, then its `ANY`, which stands
        for API Gateway's methods only (a made-up or TRACE method reaches no function)."""
        candidates = [method, ANY] if method in HTTP_METHODS else [method]
        for wanted in candidates:
            for compiled in self._routes:
                if compiled.route.method == wanted and (found := compiled.pattern.match(path)):
                    return compiled, {name: unquote(value) for name, value in found.groupdict().items()}
        return None


def proxy_event(request: HttpRequest, route: ApiRoute, path_parameters: Mapping[str, str]) -> dict[str, Any]:
    """The event API Gateway's REST API sends to a Lambda proxy integration."""
    split = urlsplit(request.target)
    path = unquote(split.path)
    query_pairs = parse_qsl(split.query, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for name, value in query_pairs:
        multi_query.setdefault(name, []).append(value)
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        multi_headers.setdefault(name, []).append(value)
    body, is_base64 = _event_body(request.body)
    now = time.time()
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": request.method,
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": LOCAL_ACCOUNT,
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": route.path,
            "httpMethod": request.method,
            "path": path,
            "protocol": "HTTP/1.1",
            "stage": LOCAL_STAGE,
            "requestId": str(uuid.uuid4()),
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": formatdate(now, usegmt=True),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": request.source_ip, "userAgent": _header(request.headers, "user-agent")},
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name), None)


def _event_body(body: bytes) -> tuple[str | None, bool]:
    if not body:
        return None, False
    try:
        return body.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), True


def http_response(result: Any) -> HttpResponse:
    """A Lambda proxy result as API Gateway turns it into HTTP; a malformed one is a 502, as there."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return problem(502, "bad_gateway", "Bad gateway", "The function returned a malformed proxy response")
    headers = [(name, str(value)) for name, value in (result.get("headers") or {}).items()]
    single = {name.lower() for name, _ in headers}
    for name, values in (result.get("multiValueHeaders") or {}).items():
        if name.lower() not in single:
            headers.extend((name, str(value)) for value in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return HttpResponse(result["statusCode"], headers, raw)


def problem(
    status: int, code: str, title: str, detail: str, headers: Sequence[tuple[str, str]] = ()
) -> HttpResponse:
    """Errors API Gateway itself answers, shaped like template.yaml's GatewayResponses."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, "code": code}
    return HttpResponse(
        status, [("Content-Type", "application/problem+json"), *headers], json.dumps(body).encode()
    )
