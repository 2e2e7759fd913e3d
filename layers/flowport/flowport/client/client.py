"""A typed client of the flowport API, on httpx: start, read, wait for, stream, cancel, retry, rerun and
search executions.

Retries: a 429, 502, 503 or 504 (and a connection that failed) is tried again at most `max_retries` times,
after the answer's `Retry-After` (capped at `max_backoff`) or an exponential backoff, with full jitter, but
only for a request that is safe to repeat: reads, a cancel (a second cancel of a cancelled execution is
refused, not repeated), and a start, retry or rerun sent with an idempotency key. Without a key such a
request is sent once: the client cannot tell whether a lost answer's execution started. `new_key()` makes a
key for a client that wants starts retried.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
from httpx_sse import SSEError, connect_sse

from flowport.client.errors import FlowportApiError, WaitTimedOut
from flowport.client.models import Event, Execution, NodeRun, event_of

DEFAULT_URL = "http://127.0.0.1:3000"
ConflictStrategy = Literal["RETURN_EXISTING", "FAIL", "FAIL_ON_RUNNING"]
_RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


def new_key() -> str:
    """A fresh idempotency key, for a start (retry, rerun) that the client may then send again safely."""
    return str(uuid.uuid4())


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _problem_of(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {"detail": response.text[:500]}
    return document if isinstance(document, dict) else {"detail": str(document)}


class FlowportClient:
    """`url` and `api_key` default to FLOWPORT_URL (else the local server) and FLOWPORT_API_KEY. A client
    holds one connection pool: make one and reuse it, and close it (or use it as a context manager)."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base_url = (url or os.environ.get("FLOWPORT_URL") or DEFAULT_URL).rstrip("/")
        key = api_key if api_key is not None else os.environ.get("FLOWPORT_API_KEY")
        headers = {"Accept": "application/json", "User-Agent": "flowport-client"}
        if key:
            headers["X-API-Key"] = key
        self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout, transport=transport)
        self._timeout = timeout
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._sleep = sleep

    @property
    def url(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def __enter__(self) -> FlowportClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # Executions

    def start(
        self,
        workflow: str,
        input: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        correlation_id: str | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
        on_conflict: ConflictStrategy = "RETURN_EXISTING",
    ) -> Execution:
        """Start an execution: its summary (QUEUED or RUNNING). With a key, a replay answers the execution
        the key started, `replayed` True."""
        options = {"version": version, "correlationId": correlation_id, "priority": priority}
        params = {name: str(value) for name, value in options.items() if value is not None}
        response = self._send(
            "POST",
            f"/workflows/{workflow}/executions",
            params=params,
            json=dict(input or {}),
            headers=self._key_headers(idempotency_key, on_conflict),
            safe=idempotency_key is not None,
        )
        return Execution.answered(response.json(), response.headers)

    def get(self, execution_id: str) -> Execution:
        """Its status document: status, progress, status variables, output or error."""
        return Execution.from_json(self._send("GET", f"/executions/{execution_id}").json())

    def cancel(self, execution_id: str) -> dict[str, Any]:
        """`{executionId, cancelled, previousStatus, status, message}`; an ended one raises 409."""
        document: dict[str, Any] = self._send("DELETE", f"/executions/{execution_id}").json()
        return document

    def retry(
        self,
        execution_id: str,
        *,
        idempotency_key: str | None = None,
        on_conflict: ConflictStrategy = "RETURN_EXISTING",
    ) -> Execution:
        """Run a FAILED, TIMED_OUT or CANCELLED execution again from where it stopped."""
        response = self._send(
            "POST",
            f"/executions/{execution_id}/retry",
            headers=self._key_headers(idempotency_key, on_conflict),
            safe=idempotency_key is not None,
        )
        return Execution.answered(response.json(), response.headers)

    def rerun(
        self,
        execution_id: str,
        *,
        version: int | Literal["latest"] | None = None,
        idempotency_key: str | None = None,
        on_conflict: ConflictStrategy = "RETURN_EXISTING",
    ) -> Execution:
        """A new execution of the same request (the version it ran, another, or "latest")."""
        response = self._send(
            "POST",
            f"/executions/{execution_id}/rerun",
            params={} if version is None else {"version": str(version)},
            headers=self._key_headers(idempotency_key, on_conflict),
            safe=idempotency_key is not None,
        )
        return Execution.answered(response.json(), response.headers)

    def search(self, *, page_size: int = 100, **filters: str) -> Iterator[Execution]:
        """Every execution the filters find, newest first, page after page (`workflow`, `status`,
        `correlationId`, `startedBy`, `since`, `until`, `input.<field>`; the API's names)."""
        params = {**filters, "limit": str(page_size)}
        while True:
            page = self._send("GET", "/executions", params=params).json()
            for item in page.get("items", []):
                yield Execution.from_json(item)
            if not page.get("nextToken"):
                return
            params = {**params, "nextToken": page["nextToken"]}

    def history(self, execution_id: str, *, include_io: bool = False) -> Iterator[NodeRun]:
        """Each run of each state, oldest first."""
        params = {"limit": "100", **({"include": "io"} if include_io else {})}
        while True:
            page = self._send("GET", f"/executions/{execution_id}/history", params=params).json()
            for item in page.get("items", []):
                yield NodeRun.from_json(item)
            if not page.get("nextToken"):
                return
            params = {**params, "nextToken": page["nextToken"]}

    def events(
        self, execution_id: str, *, last_event_id: str | None = None, timeout: float | None = None
    ) -> Iterator[Event]:
        """The execution's live events, until its final one. A connection that ends early (API Gateway
        ends each response within 29 s; networks drop) is resumed with Last-Event-ID, so no event comes
        twice or is lost; a resume after the end (204) stops. With `timeout`, WaitTimedOut once that many
        seconds have passed without the end (each read waits no longer than what is left)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        position = last_event_id
        last_status: str | None = None
        failures = 0
        while True:
            headers = {"Accept": "text/event-stream"}
            if position:
                headers["Last-Event-ID"] = position
            read = self._timeout if deadline is None else min(self._timeout, deadline - time.monotonic())
            if read <= 0:
                raise WaitTimedOut(execution_id, last_status)
            try:
                path = f"/executions/{execution_id}/events"
                limits = httpx.Timeout(self._timeout, read=read)
                with connect_sse(self._http, "GET", path, headers=headers, timeout=limits) as source:
                    if source.response.status_code == 204:
                        return
                    if source.response.is_error:
                        source.response.read()
                        raise FlowportApiError(source.response.status_code, _problem_of(source.response))
                    for message in source.iter_sse():
                        failures = 0
                        if not message.data:  # a keep-alive
                            continue
                        event = event_of(message.event, message.id, message.data)
                        position = message.id or position
                        last_status = str(event.data.get("status") or last_status)
                        yield event
                        if event.final:
                            return
                        if deadline is not None and time.monotonic() >= deadline:
                            raise WaitTimedOut(execution_id, last_status)
            except (httpx.TransportError, SSEError):
                if deadline is not None and time.monotonic() >= deadline:
                    raise WaitTimedOut(execution_id, last_status) from None
                failures += 1
                if failures > self._max_retries:
                    raise
                self._sleep(self._delay(failures, None))

    def wait(self, execution_id: str, *, timeout: float | None = None, poll: float = 1.0) -> Execution:
        """Its final status document, once it has ended: from the event stream, or, where the stream
        cannot be had (a proxy that buffers it, an older API), by polling with backoff up to 10 s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            for event in self.events(execution_id, timeout=timeout):
                if event.final:
                    return Execution.from_json(event.data)
        except FlowportApiError as error:
            if error.status not in (404, 405, 406, 501) or error.code == "execution_not_found":
                raise
        while True:
            execution = self.get(execution_id)
            if execution.finished:
                return execution
            if deadline is not None and time.monotonic() + poll > deadline:
                raise WaitTimedOut(execution_id, execution.status)
            self._sleep(poll)
            poll = min(poll * 2, 10.0)

    # Workflows

    def workflows(self) -> list[dict[str, Any]]:
        """The workflows the caller may see, with their versions, input schemas and limits."""
        items: list[dict[str, Any]] = self._send("GET", "/workflows").json()["workflows"]
        return items

    def workflow(self, name: str) -> dict[str, Any]:
        """One workflow, with its running and queued counts."""
        document: dict[str, Any] = self._send("GET", f"/workflows/{name}").json()
        return document

    # HTTP

    def request(self, method: str, path: str, json: Any = None) -> Any:
        """Any route (the admin ones, say): its JSON answer, None for one without a body (204)."""
        response = self._send(method, path, json=json)
        return response.json() if response.content else None

    @staticmethod
    def _key_headers(key: str | None, on_conflict: ConflictStrategy) -> dict[str, str]:
        return {} if key is None else {"Idempotency-Key": key, "X-On-Conflict": on_conflict}

    def _delay(self, failures: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._max_backoff) + random.uniform(0, self._backoff)
        return random.uniform(0, min(self._max_backoff, self._backoff * 2**failures))

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        safe: bool | None = None,
    ) -> httpx.Response:
        repeatable = method in ("GET", "DELETE") if safe is None else safe
        failures = 0
        while True:
            try:
                response = self._http.request(method, path, params=params, json=json, headers=headers)
            except httpx.TransportError:
                failures += 1
                if not repeatable or failures > self._max_retries:
                    raise
                self._sleep(self._delay(failures, None))
                continue
            if response.is_success:
                return response
            if repeatable and response.status_code in _RETRYABLE_STATUSES and failures < self._max_retries:
                failures += 1
                self._sleep(self._delay(failures, _retry_after(response)))
                continue
            raise FlowportApiError(response.status_code, _problem_of(response), dict(response.headers))
