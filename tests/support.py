"""Test helpers: calling handlers with the events in events/, and waiting with a deadline."""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from botocore.exceptions import ClientError
from flowport import services
from flowport.aws import clients
from flowport.core.identity import ALL_WORKFLOWS, Action, AuthMode, Caller, Scopes
from flowport.core.principals import IssuedKey, NewKey, NewPassword, NewPrincipal
from flowport.local import lambda_seam
from flowport.local.functions import FunctionError, invoke
from flowport.local.server import LocalServer
from flowport.local.template import LOCAL_ACCOUNT, LOCAL_REGION, LOCAL_STACK, ApiRoute, Stack
from flowport.settings import Settings
from flowport.usecases.admin import ManagePrincipals

EVENTS = Path(__file__).resolve().parents[1] / "events"
# For a local server under test: event-stream responses that wait 0.3 s for news, looking every 50 ms,
# instead of 25 s.
QUICK_STREAMS = {"FLOWPORT_STREAM_MAX_SECONDS": "0.3", "FLOWPORT_STREAM_POLL_SECONDS": "0.05"}
T = TypeVar("T")


def caller(
    principal_id: str = "p_testadmin0000000000",
    *,
    workflows: tuple[str, ...] = (ALL_WORKFLOWS,),
    actions: tuple[Action, ...] = tuple(Action),
    own_executions_only: bool = False,
    mode: AuthMode = AuthMode.API_KEY,
) -> Caller:
    """A caller as the authorizer would vouch for it: by default one that may do anything."""
    scopes = Scopes(workflows=workflows, actions=actions, own_executions_only=own_executions_only)
    return Caller(principal_id, principal_id.removeprefix("p_"), scopes, mode)


ADMIN = caller()
ANYONE = ADMIN.reach()  # the reach of a caller that may touch every execution


def as_caller(event: dict[str, Any], who: Caller) -> dict[str, Any]:
    """A copy of `event` as API Gateway passes it on after its authorizer vouched for `who`."""
    event = copy.deepcopy(event)
    event["requestContext"]["authorizer"] = {"principalId": who.principal_id, **who.to_context()}
    return event


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def settings_for_tests(**overrides: Any) -> Settings:
    """Settings for a use case built by a test: the local stack's names, and any setting changed."""
    required = {
        "table_name": f"{LOCAL_STACK}-ExecutionsTable",
        "state_machine_arn_prefix": (
            f"arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:{LOCAL_STACK}-"
        ),
    }
    return Settings.model_validate({**required, **overrides})


def wait_until(probe: Callable[[], T], timeout: float = 15.0, interval: float = 0.05) -> T:
    """Poll until `probe` returns something truthy; fail with its last answer after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout}s; last value: {value!r}")
        time.sleep(interval)


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]  # lower-case names
    body: str

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def problem_code(self) -> str:
        assert self.headers["content-type"] == "application/problem+json", self.body
        return str(self.json()["code"])


def with_request(
    event: dict[str, Any],
    *,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str | None] | None = None,
    body: str | None = None,
    keep_body: bool = True,
) -> dict[str, Any]:
    """A copy of `event` changed as a client's request would change it (path, query, headers, body)."""
    event = copy.deepcopy(event)
    if path_parameters is not None:
        event["pathParameters"] = path_parameters
        path = event["resource"]
        for name, value in path_parameters.items():
            path = path.replace(f"{{{name}}}", quote(value, safe=""))
        event["path"] = path
        event["requestContext"]["path"] = f"/{event['requestContext']['stage']}{path}"
    if query is not None:
        event["queryStringParameters"] = query or None
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    for name, value in (headers or {}).items():
        for existing in [h for h in event["headers"] if h.lower() == name.lower()]:
            del event["headers"][existing]
            del event["multiValueHeaders"][existing]
        if value is not None:
            event["headers"][name] = value
            event["multiValueHeaders"][name] = [value]
    if body is not None or not keep_body:
        event["body"] = body
    return event


def admin_event(
    method: str, resource: str, path_parameters: dict[str, str] | None = None, body: str | None = None
) -> dict[str, Any]:
    """Any admin route's event: the create-principal sample (an admin's authorizer context) on that route."""
    event = load_event("admin-create-principal")
    event.update(httpMethod=method, resource=resource, path=resource, pathParameters=None)
    event["requestContext"].update(httpMethod=method, resourcePath=resource, path=f"/v1{resource}")
    return with_request(event, path_parameters=path_parameters, body=body, keep_body=body is not None)


class Api:
    """Calls the function that the template routes each event to, in-process, like API Gateway would."""

    def __init__(self, stack: Stack) -> None:
        self._routes = stack.routes

    def call(self, event: dict[str, Any]) -> HttpResult:
        # As API Gateway: the resource's own method, else its ANY (template.yaml routes those to a 405).
        spec = (
            self._routes.get(ApiRoute(event["httpMethod"], event["resource"]))
            or self._routes[ApiRoute("ANY", event["resource"])]
        )
        response = invoke(spec, event)
        headers = {name.lower(): value for name, value in (response.get("headers") or {}).items()}
        for name, values in (response.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = ", ".join(values)
        return HttpResult(response["statusCode"], headers, response.get("body") or "")

    def start(
        self,
        workflow: str = "ticket-triage",
        body: Any = None,
        *,
        headers: dict[str, str | None] | None = None,
        query: dict[str, str] | None = None,
        raw_body: str | None = None,
        who: Caller | None = None,
    ) -> HttpResult:
        """POST /workflows/{workflow}/executions, from events/start-execution.json without its key; by
        the sample event's admin unless `who` says which caller."""
        base_headers: dict[str, str | None] = {"Idempotency-Key": None, "X-On-Conflict": None}
        event = with_request(
            load_event("start-execution"),
            path_parameters={"name": workflow},
            query=query if query is not None else {},
            headers={**base_headers, **(headers or {})},
            body=raw_body if raw_body is not None else json.dumps(body if body is not None else TICKET),
        )
        return self.call(as_caller(event, who) if who else event)

    def get(self, execution_id: str, who: Caller | None = None) -> HttpResult:
        event = with_request(load_event("get-execution"), path_parameters={"executionId": execution_id})
        return self.call(as_caller(event, who) if who else event)

    def deliveries(self, execution_id: str, who: Caller | None = None) -> HttpResult:
        """GET /executions/{id}/deliveries, from events/get-execution.json on that route."""
        event = with_request(load_event("get-execution"), path_parameters={"executionId": execution_id})
        event.update(
            resource="/executions/{executionId}/deliveries", path=f"/executions/{execution_id}/deliveries"
        )
        return self.call(as_caller(event, who) if who else event)

    def search(self, who: Caller | None = None, **query: str) -> HttpResult:
        """GET /executions?<query>, from events/list-executions.json with its query replaced."""
        event = with_request(load_event("list-executions"), query=query)
        return self.call(as_caller(event, who) if who else event)

    def cancel(self, execution_id: str, who: Caller | None = None) -> HttpResult:
        event = with_request(load_event("cancel-execution"), path_parameters={"executionId": execution_id})
        return self.call(as_caller(event, who) if who else event)

    def retry(
        self, execution_id: str, who: Caller | None = None, headers: dict[str, str | None] | None = None
    ) -> HttpResult:
        """POST /executions/{id}/retry, from events/retry-execution.json without its key unless given."""
        return self._again("retry-execution", execution_id, who, headers, query=None)

    def rerun(
        self,
        execution_id: str,
        who: Caller | None = None,
        headers: dict[str, str | None] | None = None,
        query: dict[str, str] | None = None,
    ) -> HttpResult:
        """POST /executions/{id}/rerun, from events/rerun-execution.json without its key or query unless
        given."""
        return self._again("rerun-execution", execution_id, who, headers, query=query or {})

    def _again(
        self,
        sample: str,
        execution_id: str,
        who: Caller | None,
        headers: dict[str, str | None] | None,
        query: dict[str, str] | None,
    ) -> HttpResult:
        base_headers: dict[str, str | None] = {"Idempotency-Key": None, "X-On-Conflict": None}
        event = with_request(
            load_event(sample),
            path_parameters={"executionId": execution_id},
            query=query,
            headers={**base_headers, **(headers or {})},
        )
        return self.call(as_caller(event, who) if who else event)

    def wait_for_status(self, execution_id: str, *statuses: str, timeout: float = 15.0) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            document: dict[str, Any] = self.get(execution_id).json()
            return document if document["status"] in statuses else None

        return wait_until(reached, timeout=timeout)


TICKET = {"subject": "Checkout page returns 500", "customerTier": "enterprise", "delaySeconds": 0}
# A document-summary body: two sections, so its Map runs two items.
DOCUMENT = (
    "# Release notes\n\n## Fixes\n\nThe exporter no longer drops rows.\n\n## Features\n\nNew dashboard.\n"
)


# -- principals and their credentials, written straight to the (running) local cloud's table ------------


def admin_key(name: str = "test-admin") -> str:
    """A new principal with every scope and its API key: what a test sends the local server."""
    return services.manage_principals().bootstrap_admin(name).secret


def new_principal(workflows: Sequence[str] = ("*",), actions: Sequence[str] = ("start", "read")) -> str:
    """A new principal with these scopes; its id."""
    scopes = Scopes(workflows=tuple(workflows), actions=tuple(Action(action) for action in actions))
    return services.manage_principals().create(NewPrincipal(name="test", scopes=scopes)).principal_id


def issue_key(principal_id: str, expired: bool = False) -> IssuedKey:
    """A key of the principal; `expired`: issued two days ago to expire after one."""
    if not expired:
        return services.manage_principals().issue_key(principal_id, NewKey())
    issued_before = datetime.now(UTC) - timedelta(days=2)
    past = ManagePrincipals(services.principal_store(), services.registry(), clock=lambda: issued_before)
    return past.issue_key(principal_id, NewKey(expires_in_days=1))


def set_password(principal_id: str, username: str, password: str) -> None:
    services.manage_principals().set_password(principal_id, NewPassword(username=username, password=password))


def basic(username: str, password: str) -> str:
    """An Authorization header's value for these credentials."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def keyed_session(key: str) -> requests.Session:
    """HTTP to the local server with this API key on every request."""
    session = requests.Session()
    session.headers["X-API-Key"] = key
    return session


@dataclass
class KeyedServer:
    """A running local server as an admin's client sees it: its URL, and HTTP with an admin's key."""

    url: str
    key: str

    def __post_init__(self) -> None:
        self.http = keyed_session(self.key)


def keyed(server: LocalServer) -> KeyedServer:
    """The server, with a new admin principal's key for every request made through `.http`."""
    return KeyedServer(server.url, admin_key())


class CallLog:
    """AWS calls ("dynamodb.GetItem", ...) made on this thread, recorded by a botocore before-call hook
    registered on the shared clients; the local EventBridge delivers to the sync function on its own thread.
    Used by tests/test_call_counts.py and by bench/ (both development-only)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self._thread = threading.get_ident()

    def record(self, event_name: str, **_: Any) -> None:
        # event_name is "before-call.<service id>.<Operation>"
        if threading.get_ident() == self._thread:
            self.calls.append(".".join(event_name.split(".")[1:]))

    def during(self, action: Any) -> list[str]:
        self.calls.clear()
        action()
        return list(self.calls)


@contextmanager
def aws_failing(client: Any, operation: str, code: str, **response: Any) -> Iterator[None]:
    """While the block runs, `operation` on this shared client fails as AWS answers with `code` (and any
    other parts of an error response, such as CancellationReasons), before anything is sent: a botocore
    before-call hook, the seam botocore offers, so the adapters under test stay as they ship."""

    def fail(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": code}, **response}, operation)

    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register(event, fail)
    try:
        yield
    finally:
        client.meta.events.unregister(event, fail)


@contextmanager
def lambda_failing(
    logical_id: str, times: int = 1, error_type: str = "Sandbox.Timedout"
) -> Iterator[list[int]]:
    """While the block runs, Step Functions' first `times` invocations of the template's function fail as
    Lambda answers a function that timed out (no Retry of the samples takes it, no Catch): at the seam
    local mode runs Lambda tasks through (flowport.local.lambda_seam), so the function stays as it ships.
    Yields the failures still to come, as a one-item list."""
    original = lambda_seam.invoke
    left = [times]

    def flaky(spec: Any, event: Any) -> Any:
        if spec.logical_id == logical_id and left[0] > 0:
            left[0] -= 1
            raise FunctionError({"errorType": error_type, "errorMessage": f"{logical_id} failed (a test's)"})
        return original(spec, event)

    lambda_seam.invoke = flaky  # type: ignore[assignment]
    try:
        yield left
    finally:
        lambda_seam.invoke = original  # type: ignore[assignment]


@contextmanager
def calls_recorded() -> Iterator[CallLog]:
    """A CallLog on the shared DynamoDB, Step Functions and SQS clients (inside a running local cloud)."""
    log = CallLog()
    hooked = (clients.dynamodb(), clients.stepfunctions(), clients.sqs())
    for client in hooked:
        client.meta.events.register("before-call.*.*", log.record)
    try:
        yield log
    finally:
        for client in hooked:
            client.meta.events.unregister("before-call.*.*", log.record)


class HandlerStreams:
    """Points every logging handler that already exists at one buffer, for as long as it is used."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self._swapped: list[tuple[logging.StreamHandler[Any], Any]] = []

    def __enter__(self) -> HandlerStreams:
        loggers = [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]
        for candidate in loggers:
            for handler in getattr(candidate, "handlers", []):
                if isinstance(handler, logging.StreamHandler) and not isinstance(
                    handler, logging.FileHandler
                ):
                    self._swapped.append((handler, handler.setStream(self.buffer)))
        return self

    def __exit__(self, *_: object) -> None:
        for handler, stream in reversed(self._swapped):
            handler.setStream(stream)
