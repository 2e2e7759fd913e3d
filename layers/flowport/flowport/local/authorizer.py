"""API Gateway's Lambda REQUEST authorizers, locally, as a REST API runs them.

For a route with an authorizer: the authorizer's event (the request, with its method ARN), its function
run through the same seam as every other invocation, and its answer as API Gateway takes it: an error
whose message is exactly "Unauthorized" is a 401, any other error a 500; the returned policy is evaluated
against the request's method ARN as IAM does (an explicit Deny wins, then an Allow, else denied: 403); an
allowed request reaches its function with `requestContext.authorizer` = the principal id and the context.
With `ReauthorizeEvery` above 0 an answer is cached by the identity sources' values for that long, and a
request missing one is a 401 without any call, as on AWS.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from flowport.local.functions import Function, FunctionError, invoke
from flowport.local.template import LOCAL_ACCOUNT, LOCAL_REGION, AuthorizerSpec, FunctionSpec, Stack

API_ID = "local"
UNAUTHORIZED = "Unauthorized"  # the one error message API Gateway turns into a 401
# API Gateway's messages ($context.error.messageString) for each outcome.
EXPLICIT_DENY = "User is not authorized to access this resource with an explicit deny"
NO_ALLOW = "User is not authorized to access this resource"
AUTHORIZER_FAILED = "The authorizer failed; see the server log"
MALFORMED_ANSWER = "The authorizer's answer is not a policy API Gateway accepts; see the server log"
_CONTEXT_VALUE_TYPES = (str, int, float, bool)


@dataclass(frozen=True)
class Allowed:
    authorizer: dict[str, Any]  # requestContext.authorizer for the function's event


@dataclass(frozen=True)
class Refused:
    response_type: str  # the GatewayResponses type: UNAUTHORIZED, ACCESS_DENIED, AUTHORIZER_FAILURE, ...
    message: str
    error: str | None = None  # for the server log: what failed (never a header's value)


Outcome = Allowed | Refused


def method_arn(method: str, path: str, stage: str) -> str:
    return f"arn:aws:execute-api:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{API_ID}/{stage}/{method}/{path.lstrip('/')}"


def authorizer_event(proxy_event: Mapping[str, Any], arn: str) -> dict[str, Any]:
    """The REQUEST authorizer's event: the proxy event's request parts, without the body."""
    request = {name: value for name, value in proxy_event.items() if name not in ("body", "isBase64Encoded")}
    return {
        "type": "REQUEST",
        "methodArn": arn,
        **request,
        "headers": proxy_event.get("headers") or {},
        "multiValueHeaders": proxy_event.get("multiValueHeaders") or {},
    }


class LocalAuthorizers:
    """Every Lambda authorizer of the stack, with API Gateway's cache of each one's answers."""

    def __init__(
        self,
        stack: Stack,
        run: Callable[[Function, Any], Any] = invoke,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._functions: dict[str, FunctionSpec] = {spec.arn: spec for spec in stack.functions.values()}
        self._run = run
        self._monotonic = monotonic
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def authorize(self, authorizer: AuthorizerSpec, proxy_event: Mapping[str, Any]) -> Outcome:
        context = proxy_event["requestContext"]
        arn = method_arn(proxy_event["httpMethod"], proxy_event["path"], context["stage"])
        cache_key: tuple[str, tuple[str, ...]] | None = None
        if authorizer.reauthorize_seconds > 0:
            headers = {name.lower(): value for name, value in (proxy_event.get("headers") or {}).items()}
            sources = tuple(headers.get(name, "") for name in authorizer.identity_headers)
            if not all(sources):
                return Refused("UNAUTHORIZED", UNAUTHORIZED)
            cache_key = (authorizer.name, sources)
        started = self._monotonic()
        answer = self._cached(cache_key, started)
        if answer is None:
            called = self._call(authorizer, authorizer_event(proxy_event, arn))
            if isinstance(called, Refused):
                return called
            answer = called
            if cache_key is not None:
                self._keep(cache_key, started + authorizer.reauthorize_seconds, answer, started)
        return _decided(answer, arn, int((self._monotonic() - started) * 1000))

    def _keep(
        self, key: tuple[str, tuple[str, ...]], until: float, answer: dict[str, Any], now: float
    ) -> None:
        with self._lock:
            # Expired answers go as new ones come, so that many credentials do not grow the cache forever.
            for stale in [k for k, (expires, _) in self._cache.items() if expires <= now]:
                del self._cache[stale]
            self._cache[key] = (until, answer)

    def _cached(self, key: tuple[str, tuple[str, ...]] | None, now: float) -> dict[str, Any] | None:
        if key is None:
            return None
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None and entry[0] <= now:
                del self._cache[key]
                entry = None
        return entry[1] if entry else None

    def _call(self, authorizer: AuthorizerSpec, event: dict[str, Any]) -> dict[str, Any] | Refused:
        """The authorizer function's answer as it returned it, or what API Gateway makes of its failure."""
        function = self._functions.get(authorizer.function_arn)
        if function is None:
            return Refused("AUTHORIZER_CONFIGURATION_ERROR", MALFORMED_ANSWER, "no function has this ARN")
        try:
            answer = self._run(function, event)
        except Exception as error:
            message = (
                str(error.payload.get("errorMessage")) if isinstance(error, FunctionError) else str(error)
            )
            if message == UNAUTHORIZED:
                return Refused("UNAUTHORIZED", UNAUTHORIZED)
            return Refused("AUTHORIZER_FAILURE", AUTHORIZER_FAILED, f"{type(error).__name__}: {message}")
        problem = _malformed(answer)
        if problem:
            return Refused("AUTHORIZER_CONFIGURATION_ERROR", MALFORMED_ANSWER, problem)
        assert isinstance(answer, dict)  # _malformed says so
        return answer


def _malformed(answer: Any) -> str | None:
    """What API Gateway would refuse in an authorizer's answer (its AUTHORIZER_CONFIGURATION_ERROR)."""
    if not isinstance(answer, dict) or not isinstance(answer.get("principalId"), str):
        return "no principalId"
    statements = answer.get("policyDocument", {}).get("Statement")
    if not isinstance(statements, list) or not statements:
        return "no policyDocument.Statement"
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") not in ("Allow", "Deny"):
            return "a statement's Effect is neither Allow nor Deny"
        if not {"Action", "Resource"} <= set(statement) or "Condition" in statement:
            return "a statement without Action and Resource, or with a Condition (not evaluated locally)"
    context = answer.get("context") or {}
    if not isinstance(context, dict) or not all(
        isinstance(v, _CONTEXT_VALUE_TYPES) for v in context.values()
    ):
        return "context values must be strings, numbers or booleans"
    return None


def _decided(answer: dict[str, Any], arn: str, latency_ms: int) -> Outcome:
    matching = [
        statement["Effect"]
        for statement in answer["policyDocument"]["Statement"]
        if _any_matches(statement["Action"], "execute-api:Invoke", case_sensitive=False)
        and _any_matches(statement["Resource"], arn, case_sensitive=True)
    ]
    if "Deny" in matching:
        return Refused("ACCESS_DENIED", EXPLICIT_DENY)
    if "Allow" not in matching:
        return Refused("ACCESS_DENIED", NO_ALLOW)
    context = answer.get("context") or {}
    return Allowed({"principalId": answer["principalId"], **context, "integrationLatency": latency_ms})


def _any_matches(patterns: str | list[str], value: str, *, case_sensitive: bool) -> bool:
    listed = [patterns] if isinstance(patterns, str) else patterns
    return any(iam_matches(pattern, value, case_sensitive=case_sensitive) for pattern in listed)


def iam_matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """Whether an IAM Action or Resource element matches: `*` any run of characters, `/` and `:`
    included, `?` any one character, nothing else special; actions ignore case, ARNs do not."""
    return _glob(pattern, case_sensitive).fullmatch(value) is not None


@cache
def _glob(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    translated = "".join({"*": ".*", "?": "."}.get(char, re.escape(char)) for char in pattern)
    return re.compile(translated, re.DOTALL if case_sensitive else re.DOTALL | re.IGNORECASE)
