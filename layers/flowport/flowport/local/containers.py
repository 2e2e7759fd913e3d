"""Each function's invocations, while the local server runs, in containers of its own, as Lambda runs them.

A container is a worker process (`flowport.local.container`) that handles one event at a time, with the
function's own environment variables from the template; concurrency comes from more containers (up to
`concurrency` per function, started when needed and then kept warm), and containers share no request
state. They reach the embedded moto over HTTP, through a moto server in this process that serves the same
backends, so Step Functions, DynamoDB and the local EventBridge stay in one place.

Why processes and not threads: Powertools keeps the current request in a class attribute shared by every
resolver of a process (`BaseRouter.current_event`), so two requests on two threads read each other's
bodies and headers. On AWS a container never handles two events at once; here neither does a process.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from flowport.local.container import ContainerFunction
from flowport.local.functions import Function, FunctionError, run_in

DEFAULT_CONCURRENCY = 10
# Lambda gives an init 10 s of its own before the handler's timeout starts.
INIT_SECONDS = 10
LogLine = Callable[[str, str, bool], None]  # (function logical id, line, from stderr)


class Zygote:
    """The process that forks containers (`flowport.local.container`)."""

    def __init__(self) -> None:
        self._requests, theirs = socket.socketpair()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "flowport.local.container", str(theirs.fileno())],
            stdin=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"},
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self._answers = self._requests.makefile("rb")
        self._lock = threading.Lock()

    def fork(self, function: Function, environment: Mapping[str, str], fds: list[int]) -> int:
        request = {"function": ContainerFunction.of(function).to_json(), "environment": dict(environment)}
        with self._lock:
            socket.send_fds(self._requests, [json.dumps(request).encode()], fds)
            reply = self._answers.readline()
        if not reply:
            raise FunctionError(_error("Runtime.Unknown", "The local container zygote has exited"))
        return int(json.loads(reply)["pid"])

    def close(self) -> None:
        self._answers.close()
        self._requests.close()  # the zygote ends when its socket does
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _error(error_type: str, message: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message, "stackTrace": []}


class Container:
    """One forked worker process of one function."""

    def __init__(
        self, zygote: Zygote, function: Function, environment: Mapping[str, str], log: LogLine
    ) -> None:
        self.function = function
        self.warm = False
        self._alive = True
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        answers_read, answers_write = os.pipe()
        theirs = [stdin_read, stdout_write, stderr_write, answers_write]
        try:
            self._pid = zygote.fork(function, environment, theirs)
        finally:
            for fd in theirs:
                os.close(fd)
        self._events = os.fdopen(stdin_write, "wb")
        self._answers = os.fdopen(answers_read, "rb")
        for fd, is_error in ((stdout_read, False), (stderr_read, True)):
            stream = os.fdopen(fd, "rb")
            threading.Thread(
                target=_relay, args=(stream, function.logical_id, is_error, log), daemon=True
            ).start()

    def invoke(self, event: Any) -> Any:
        """Run one event; the container is lost (and raises) if it times out or dies meanwhile."""
        timeout = self.function.timeout + (0 if self.warm else INIT_SECONDS)
        try:
            self._events.write(json.dumps(event, separators=(",", ":")).encode() + b"\n")
            self._events.flush()
        except OSError:
            raise self._lost("Runtime.ExitError", "The container exited before the invocation") from None
        line = _read_line(self._answers, time.monotonic() + timeout)
        if line is None:
            raise self._lost("Sandbox.Timedout", f"Task timed out after {self.function.timeout} seconds")
        if not line:
            raise self._lost("Runtime.ExitError", "The container exited during the invocation")
        self.warm = True
        answer = json.loads(line)
        if "error" in answer:
            raise FunctionError(answer["error"])
        return answer["result"]

    def is_alive(self) -> bool:
        return self._alive

    def stop(self) -> None:
        """Between invocations a container ends when its stdin does; one that does not is killed."""
        self._alive = False
        with contextlib.suppress(OSError):
            self._events.close()
        deadline = time.monotonic() + 2
        while _exists(self._pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        self._answers.close()

    def _lost(self, error_type: str, message: str) -> FunctionError:
        self.stop()
        return FunctionError(_error(error_type, message))


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _read_line(answers: IO[bytes], deadline: float) -> bytes | None:
    """One answer line, b"" if the container ended first, None if the deadline passed."""
    with selectors.DefaultSelector() as selector:
        selector.register(answers, selectors.EVENT_READ)
        chunks: list[bytes] = []
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return None
            chunk = os.read(answers.fileno(), 1 << 16)
            if not chunk:
                return b""
            chunks.append(chunk)
            if chunk.endswith(b"\n"):
                return b"".join(chunks)


def _relay(stream: IO[bytes] | None, function_id: str, is_error: bool, log: LogLine) -> None:
    assert stream is not None
    for line in stream:
        text = line.decode(errors="replace").rstrip("\n")
        if text:
            log(function_id, text, is_error)


class _Pool:
    """A function's containers: a warm idle one if there is one, else a new one up to the limit, else wait."""

    def __init__(self, start: Callable[[], Container], limit: int) -> None:
        self._start = start
        self._limit = limit
        self._idle: list[Container] = []
        self._count = 0
        self._changed = threading.Condition()
        self._closed = False

    def invoke(self, event: Any) -> Any:
        container = self._acquire()
        healthy = False
        try:
            result = container.invoke(event)
            healthy = True
            return result
        except FunctionError:
            healthy = container.is_alive()
            raise
        finally:
            self._release(container, healthy)

    def add_idle(self) -> None:
        with self._changed:
            if self._count >= self._limit:
                return
            self._count += 1
        self._release(self._start(), healthy=True)

    def _acquire(self) -> Container:
        with self._changed:
            while not self._idle and self._count >= self._limit:
                self._changed.wait()
            if self._idle:
                return self._idle.pop()  # the most recently used: the warmest, as Lambda picks
            self._count += 1
        try:
            return self._start()
        except BaseException:
            with self._changed:
                self._count -= 1
                self._changed.notify()
            raise

    def _release(self, container: Container, healthy: bool) -> None:
        with self._changed:
            if healthy and not self._closed:
                self._idle.append(container)
            else:
                self._count -= 1
            self._changed.notify()
        if not healthy or self._closed:
            container.stop()

    def close(self) -> list[Container]:
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        return idle


class Containers:
    """Every function's pool, started on its first invocation."""

    def __init__(self, environments: Mapping[str, Mapping[str, str]], log: LogLine, concurrency: int) -> None:
        self._environments = environments
        self._log = log
        self._concurrency = concurrency
        self._pools: dict[str, _Pool] = {}
        self._lock = threading.Lock()
        self._zygote = Zygote()

    def invoke(self, function: Function, event: Any) -> Any:
        return self._pool(function).invoke(event)

    def warm(self, functions: Iterable[Function]) -> None:
        """Start a container of each function now, so that its first caller does not wait for its init."""
        for function in functions:
            self._pool(function).add_idle()

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            for container in pool.close():
                container.stop()
        self._zygote.close()

    def _pool(self, function: Function) -> _Pool:
        with self._lock:
            pool = self._pools.get(function.logical_id)
            if pool is None:
                environment = self._environments[function.logical_id]

                def start() -> Container:
                    return Container(self._zygote, function, environment, self._log)

                pool = self._pools[function.logical_id] = _Pool(start, self._concurrency)
            return pool


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """The embedded moto, also over HTTP on a free local port: where containers send their AWS calls."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access line per AWS call otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def in_containers(
    environments: Mapping[str, Mapping[str, str]], log: LogLine, concurrency: int = DEFAULT_CONCURRENCY
) -> Iterator[Containers]:
    """Every invocation in this process (the server's, EventBridge's, Step Functions' tasks) goes to the
    functions' containers while the block runs."""
    containers = Containers(environments, log, concurrency)
    run_in(containers.invoke)
    try:
        yield containers
    finally:
        run_in(None)
        containers.close()
