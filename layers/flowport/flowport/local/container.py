"""Local Lambda containers, forked from a zygote: `python -m flowport.local.container SOCKET_FD`.

The zygote imports the libraries every function loads (boto3, pydantic, Powertools), none of flowport's
own modules and nothing that reads the environment, then waits on a Unix socket. For each request (the
function, its environment, and four file descriptors: stdin, stdout, stderr and an answers pipe) it forks
a container, which takes that environment, loads the function's handler and runs one event at a time:
each read as a JSON line from stdin, each answer written as a JSON line to the answers pipe, stdout and
stderr staying the function's log, as in Lambda. A fork costs milliseconds where a fresh interpreter
costs a second or more of CPU, which is what lets tests start servers and containers freely.

Like Lambda's runtime, an init that fails is reported on each invocation (`Runtime.ImportModuleError`)
rather than ending the container silently.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flowport.local.functions import Function, Handler, LocalContext, error_payload, load_handler


@dataclass(frozen=True)
class ContainerFunction:
    """The `Function` this container runs, as the pool sent it."""

    logical_id: str
    name: str
    arn: str
    code_uri: Path
    handler: str
    timeout: int
    memory: int

    @classmethod
    def of(cls, function: Function) -> ContainerFunction:
        return cls(
            function.logical_id,
            function.name,
            function.arn,
            function.code_uri,
            function.handler,
            function.timeout,
            function.memory,
        )

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "code_uri": str(self.code_uri)})

    @classmethod
    def from_json(cls, text: str) -> ContainerFunction:
        fields = json.loads(text)
        return cls(**{**fields, "code_uri": Path(fields["code_uri"])})


def _answer(handler: Handler | BaseException, function: ContainerFunction, event: Any) -> dict[str, Any]:
    if isinstance(handler, BaseException):
        return {"error": {**error_payload(handler), "errorType": "Runtime.ImportModuleError"}}
    try:
        return {"result": handler(event, LocalContext.of(function))}
    except Exception as error:
        return {"error": error_payload(error)}


def serve(answers_fd: int, function: ContainerFunction) -> None:
    handler: Handler | BaseException
    try:
        handler = load_handler(function)
    except Exception as error:
        handler = error
    with os.fdopen(answers_fd, "w", encoding="utf-8") as answers:
        for line in sys.stdin:
            answer = _answer(handler, function, json.loads(line))
            try:
                encoded = json.dumps(answer, separators=(",", ":"))
            except (TypeError, ValueError) as error:  # Lambda refuses a result it cannot serialise too
                encoded = json.dumps({"error": {**error_payload(error), "errorType": "Runtime.MarshalError"}})
            answers.write(encoded + "\n")
            answers.flush()


# What every function's init imports before its own code: loaded once, shared by every fork.
PRELOADED = (
    "boto3",
    "pydantic",
    "jsonschema",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "aws_lambda_powertools.event_handler",
)
FORK_FDS = 4  # stdin, stdout, stderr, answers


def zygote(requests: socket.socket) -> None:
    for module in PRELOADED:
        __import__(module)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forks are reaped by the kernel, not waited for
    while True:
        message, fds, _flags, _address = socket.recv_fds(requests, 1 << 20, FORK_FDS)
        if not message:
            return  # the server closed its end
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            requests.close()
            _become_container(request, fds)
        for fd in fds:
            os.close(fd)
        requests.sendall(json.dumps({"pid": pid}).encode() + b"\n")


def _become_container(request: dict[str, Any], fds: list[int]) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    stdin, stdout, stderr, answers = fds
    for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(request["environment"])
    try:
        serve(answers, ContainerFunction.from_json(request["function"]))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    zygote(socket.socket(fileno=int(sys.argv[1])))
