"""Running the template's Lambda handlers with a context like Lambda's: in this process, or, while the
local server runs, in the function's own containers (`flowport.local.containers`).

This module imports nothing of moto's: a container loads it before its function, as Lambda's runtime does.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

Handler = Callable[[Any, Any], Any]


class Function(Protocol):
    """What it takes to run a function's handler (the template's `FunctionSpec` has it)."""

    @property
    def logical_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def arn(self) -> str: ...
    @property
    def code_uri(self) -> Path: ...
    @property
    def handler(self) -> str: ...  # module.function
    @property
    def timeout(self) -> int: ...
    @property
    def memory(self) -> int: ...


Invoker = Callable[[Function, Any], Any]


class FunctionError(Exception):
    """A function's invocation failed elsewhere: `payload` is Lambda's error document for it."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload


def error_payload(error: BaseException) -> dict[str, Any]:
    """Lambda's answer for a handler that raised: what Step Functions' Retry and Catch match on."""
    if isinstance(error, FunctionError):
        return error.payload
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


@dataclass
class LocalContext:
    """The attributes of Lambda's context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    invoked_function_arn: str = ""
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"

    @classmethod
    def of(cls, function: Function) -> LocalContext:
        return cls(function.name, function.memory, function.timeout, function.arn)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_module(spec: Function) -> ModuleType:
    module_name = spec.handler.rpartition(".")[0]
    return _load_module(spec.logical_id, spec.code_uri / f"{module_name.replace('.', '/')}.py")


def load_handler(spec: Function) -> Handler:
    handler: Handler = getattr(load_module(spec), spec.handler.rpartition(".")[2])
    return handler


@cache
def _load_module(logical_id: str, source: Path) -> ModuleType:
    """Import a function's module under a name of its own: every function's module is called `app`."""
    name = f"flowport_function_{logical_id}"
    import_spec = importlib.util.spec_from_file_location(name, source)
    if import_spec is None or import_spec.loader is None:
        raise ImportError(f"{logical_id}: cannot load {source}")
    module = importlib.util.module_from_spec(import_spec)
    sys.modules[name] = module
    import_spec.loader.exec_module(module)
    return module


def invoke_here(spec: Function, event: Any) -> Any:
    """Run the handler on this thread, in this process."""
    return load_handler(spec)(event, LocalContext.of(spec))


_invoker: Invoker = invoke_here


def invoke(spec: Function, event: Any) -> Any:
    """Run one invocation of `spec` wherever functions run now (see `run_in`)."""
    return _invoker(spec, event)


def run_in(invoker: Invoker | None) -> None:
    """Send every invocation to `invoker` from now on (None: back to this process)."""
    global _invoker
    _invoker = invoker or invoke_here
