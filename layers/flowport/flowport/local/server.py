"""The local HTTP server: API Gateway's routes from template.yaml, served on localhost, each request
handled by its function's handler in that function's own containers, over the embedded moto."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TextIO

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


class _HttpServer(ThreadingHTTPServer):
    # The default backlog of 5 resets connections when more clients than that connect at once.
    request_queue_size = 128


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
        self._httpd = _HttpServer((host, port), _handler_class(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()  # open event streams end at their next response

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def handle(self, request: HttpRequest) -> HttpResponse:
        path = request.target.split("?", 1)[0]
        matched = self.gateway.match(request.method, path)
        if matched is None:
            return problem(404, "route_not_found", "Not found", "No such route; see /openapi.json")
        route, path_parameters = matched
        event = proxy_event(request, route.route, path_parameters)
        try:
            result = invoke(route.function, event)
        except Exception as error:
            self.log_line(
                {
                    "level": "ERROR",
                    "message": "function failed",
                    "function": route.function.logical_id,
                    "error": f"{type(error).__name__}: {error}",
                }
            )
            return problem(502, "function_error", "Bad gateway", "The function failed; see the server log")
        return http_response(result)

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
        self._httpd.serve_forever(poll_interval=0.2)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="flowport-local-server", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._httpd.server_close()
        self._resources.close()

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self.close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _handler_class(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "flowport-local"

        def _serve(self) -> None:
            started = time.perf_counter()
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_PAYLOAD_BYTES:
                response = problem(413, "request_too_large", "Request too large", "Requests stop at 10 MB")
                self.close_connection = True
            else:
                body = self.rfile.read(length) if length else b""
                request = HttpRequest(
                    self.command, self.path, list(self.headers.items()), body, self.client_address[0]
                )
                response = server.handle(request)
            if self.command == "GET" and _is_event_stream(response):
                self._relay(request, response)
            else:
                self._send(response)
            server.log_line(
                {
                    "level": "INFO",
                    "message": "request",
                    "method": self.command,
                    "path": self.path.split("?", 1)[0],
                    "status": response.status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                }
            )

        def _send(self, response: HttpResponse) -> None:
            self.send_response_only(response.status)
            names = {name.lower() for name, _ in response.headers}
            for name, value in response.headers:
                self.send_header(name, value)
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(response.body)))
            self.send_header("Date", self.date_time_string())
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        def _relay(self, request: HttpRequest, response: HttpResponse) -> None:
            """Hold the connection open, as EventSource would reconnect: each later response continues
            from the last event id of the one before, until the stream's 204 or the client leaves."""
            self.close_connection = True
            self.send_response_only(response.status)
            for name, value in response.headers:
                if name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Connection", "close")
            self.end_headers()
            # A client that reconnected resumes where it said; later responses, after their last event.
            last_event_id = next((v for n, v in request.headers if n.lower() == "last-event-id"), None)
            try:
                while response.status == 200 and not server.stopping.is_set():
                    self.wfile.write(response.body)
                    self.wfile.flush()
                    last_event_id = _last_event_id(response.body) or last_event_id
                    response = server.handle(_resumed(request, last_event_id))
            except (BrokenPipeError, ConnectionResetError):
                return  # the client stopped listening

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def __getattr__(self, name: str) -> Callable[[], None]:
            """Any other method (TRACE, CONNECT, made-up ones) is a route API Gateway does not have: its
            404 problem document, not http.server's 501 HTML page."""
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

        def log_message(self, format: str, *args: object) -> None:
            """Requests are logged as JSON by `_serve`; the default text log would repeat them."""

    return Handler


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
