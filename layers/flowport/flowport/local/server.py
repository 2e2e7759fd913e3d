"""The local HTTP server: API Gateway's routes from template.yaml, served on localhost, each request
handled by its function's handler in that function's own containers, over the embedded moto.

HTTP itself is waitress's (a pure-Python WSGI server, well kept, with nothing to compile and a start in
milliseconds): it parses requests strictly, so a malformed one (a Content-Length that is not a number,
two of them, headers too large) is refused before any function runs, here as API Gateway refuses it: a
problem document with a stable code.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from http import HTTPStatus
from typing import Any, TextIO

from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer, create_server
from waitress.task import ErrorTask

from flowport.local.authorizer import Allowed, LocalAuthorizers
from flowport.local.cloud import container_environment
from flowport.local.containers import DEFAULT_CONCURRENCY, in_containers, moto_endpoint
from flowport.local.functions import invoke
from flowport.local.gateway import (
    HttpRequest,
    HttpResponse,
    LocalApiGateway,
    http_response,
    problem,
    proxy_event,
)
from flowport.local.template import Stack

# API Gateway's REST API refuses payloads over 10 MB before any function runs.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
# API Gateway's REST API refuses a request line and headers over 10 KB together (431 here, as waitress
# answers).
MAX_HEADER_BYTES = 10 * 1024
# Each open event stream holds a thread for as long as it is open.
HTTP_THREADS = 64
# The stable codes of the requests refused before any route is matched.
_REFUSAL_CODES = {400: "malformed_request", 413: "request_too_large", 431: "headers_too_large"}
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class LocalServer:
    def __init__(
        self,
        stack: Stack,
        host: str = "127.0.0.1",
        port: int = 3000,
        log: TextIO = sys.stdout,
        concurrency: int = DEFAULT_CONCURRENCY,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        """`concurrency`: containers per function at most; `environment`: variables every function gets
        on top of its own (a setting changed for a whole local run)."""
        self.stack = stack
        self.gateway = LocalApiGateway(stack)
        self.authorizers = LocalAuthorizers(stack)
        self._log = log
        self._log_lock = threading.Lock()
        self._resources = ExitStack()
        endpoint = self._resources.enter_context(moto_endpoint())
        environments = {
            spec.logical_id: container_environment(stack, spec, endpoint) | dict(environment or {})
            for spec in stack.functions.values()
        }
        self.containers = self._resources.enter_context(
            in_containers(environments, self.log_function_line, concurrency)
        )
        self._resources.enter_context(_waitress_logs_to(self))
        self._channels: dict[int, Any] = {}  # waitress's socket map: the listener and every connection
        httpd = create_server(
            self.wsgi,
            map=self._channels,
            host=host,
            port=port,
            threads=HTTP_THREADS,
            connection_limit=1000,
            max_request_body_size=MAX_PAYLOAD_BYTES,
            max_request_header_size=MAX_HEADER_BYTES,
            ident="flowport-local",
            asyncore_use_poll=True,  # select() stops at 1024 open descriptors
            clear_untrusted_proxy_headers=True,
        )
        assert isinstance(httpd, TcpWSGIServer)  # one host and port: never waitress's multi-socket server
        httpd.channel_class = _ProblemChannel
        self._httpd = httpd
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()  # open event streams end at their next response

    @property
    def url(self) -> str:
        host, port = self._httpd.getsockname()[:2]
        return f"http://{host}:{port}"

    def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.target.split("?", 1)[0]
        matched = self.gateway.match(request.method, path)
        if matched is None:
            return problem(404, "route_not_found", "Not found", "No such route; see /openapi.json")
        route, path_parameters = matched
        event = proxy_event(request, route.route, path_parameters)
        authorizer = self.stack.route_authorizers.get(route.route)
        if authorizer is not None:
            outcome = self.authorizers.authorize(authorizer, event)
            if not isinstance(outcome, Allowed):
                if outcome.error is not None:
                    self.log_line(
                        {
                            "level": "ERROR",
                            "message": "authorizer failed",
                            "authorizer": authorizer.name,
                            "error": outcome.error,
                        }
                    )
                return self.gateway.response(outcome.response_type, outcome.message)
            event["requestContext"]["authorizer"] = outcome.authorizer
        try:
            result = invoke(route.function, event)
        except Exception as error:
            self.log_line(
                {
                    "level": "ERROR",
                    "message": "function failed",
                    "function": route.function.logical_id,
                    "error": str(error),
                }
            )
            return problem(502, "function_error", "Bad gateway", "The function failed; see the server log")
        return http_response(result)

    def wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request = _request_of(environ)
        response = self.handle(request)
        start_response(_status_line(response.status), _end_to_end(response.headers))
        if request.method == "GET" and _is_event_stream(response):
            return self._relay(request, response, started)
        self._log_request(request, response.status, started)
        return [response.body]

    def _relay(self, request: HttpRequest, response: HttpResponse, started: float) -> Iterator[bytes]:
        """Hold the connection open, as EventSource would reconnect: each later response continues from
        the last event id of the one before, until the stream's 204 or the client leaves."""
        last_event_id = next((v for n, v in request.headers if n.lower() == "last-event-id"), None)
        try:
            while response.status == 200 and not self.stopping.is_set():
                yield response.body
                last_event_id = _last_event_id(response.body) or last_event_id
                response = self.handle(_resumed(request, last_event_id))
        finally:  # also when waitress closes the stream because the client left
            self._log_request(request, 200, started)

    def _log_request(self, request: HttpRequest, status: int, started: float) -> None:
        self.log_line(
            {
                "level": "INFO",
                "message": "request",
                "method": request.method,
                "path": request.target.split("?", 1)[0],
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
        )

    def log_line(self, fields: Mapping[str, object]) -> None:
        line = json.dumps(fields, default=str)
        with self._log_lock:
            print(line, file=self._log, flush=True)

    def log_function_line(self, function_id: str, line: str, is_error: bool) -> None:
        """A line a function's container wrote: one JSON object per line, naming the function."""
        try:
            fields = json.loads(line)
        except ValueError:
            fields = None
        if not isinstance(fields, dict):
            fields = {"level": "ERROR" if is_error else "INFO", "message": line}
        self.log_line({"function": function_id, **fields})

    def serve_forever(self) -> None:
        """Until `stop`, or KeyboardInterrupt (which waitress takes as the end of its loop)."""
        self._httpd.run()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="flowport-local-server", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop serving (waitress's loop ends once nothing is left in its map), then the containers."""
        self.stopping.set()
        self._httpd.task_dispatcher.shutdown(timeout=5)
        for channel in list(self._channels.values()):
            channel.close()
        self._resources.close()

    def stop(self) -> None:
        self.close()
        if self._thread is not None:
            self._thread.join(timeout=5)


class _ProblemErrorTask(ErrorTask):
    """waitress's answer to a request it could not parse, as a problem document instead of text."""

    def execute(self) -> None:
        error = self.request.error  # type: ignore[attr-defined]  # set by waitress's parser, not stubbed
        response = problem(
            error.code, _REFUSAL_CODES.get(error.code, "malformed_request"), error.reason, str(error.body)
        )
        self.status = _status_line(error.code)
        self.response_headers = [*self.response_headers, *response.headers]
        self.set_close_on_finish()
        self.content_length = len(response.body)
        self.write(response.body)


class _ProblemChannel(HTTPChannel):
    error_task_class = _ProblemErrorTask


@contextmanager
def _waitress_logs_to(server: LocalServer) -> Iterator[None]:
    """waitress's own messages (a queue building up, a client that left) as the server's JSON lines."""

    class ToServerLog(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            server.log_line({"level": record.levelname, "message": record.getMessage(), "from": "waitress"})

    waitress_logger = logging.getLogger("waitress")
    handler = ToServerLog()
    waitress_logger.addHandler(handler)
    waitress_logger.propagate = False
    try:
        yield
    finally:
        waitress_logger.removeHandler(handler)


def _request_of(environ: dict[str, Any]) -> HttpRequest:
    headers = [
        (name[5:].replace("_", "-").title(), value)
        for name, value in environ.items()
        if name.startswith("HTTP_")
    ]
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers.append((name.replace("_", "-").title(), environ[name]))
    body = environ["wsgi.input"].read()
    return HttpRequest(
        environ["REQUEST_METHOD"], environ["REQUEST_URI"], headers, body, environ["REMOTE_ADDR"]
    )


def _status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Status {status}"


def _end_to_end(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """The function's headers but the hop-by-hop ones, which belong to the HTTP server (WSGI, PEP 3333)."""
    hop_by_hop = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}
    return [(name, value) for name, value in headers if name.lower() not in hop_by_hop]


def _is_event_stream(response: HttpResponse) -> bool:
    content_type = next((value for name, value in response.headers if name.lower() == "content-type"), "")
    return response.status == 200 and content_type.split(";")[0].strip() == "text/event-stream"


def _last_event_id(body: bytes) -> str | None:
    ids = [line[3:].strip() for line in body.decode().splitlines() if line.startswith("id:")]
    return ids[-1] if ids else None


def _resumed(request: HttpRequest, last_event_id: str | None) -> HttpRequest:
    headers = [(name, value) for name, value in request.headers if name.lower() != "last-event-id"]
    if last_event_id is not None:
        headers.append(("Last-Event-ID", last_event_id))
    return replace(request, headers=headers)


@contextmanager
def serving(
    stack: Stack,
    host: str = "127.0.0.1",
    port: int = 0,
    log: TextIO = sys.stdout,
    environment: Mapping[str, str] | None = None,
) -> Iterator[LocalServer]:
    """A started server (port 0: any free port) for as long as the block runs."""
    server = LocalServer(stack, host, port, log, environment=environment)
    server.start()
    try:
        yield server
    finally:
        server.stop()
