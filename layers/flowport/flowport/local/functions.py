"""Running the template's Lambda handlers in this process, with a context like Lambda's."""

from __future__ import annotations

import importlib.util
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from flowport.local.template import LOCAL_ACCOUNT, LOCAL_REGION, FunctionSpec

Handler = Callable[[Any, Any], Any]


@dataclass
class LocalContext:
    """The attributes of Lambda's context object that handlers and Powertools use."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds
        self.invoked_function_arn = (
            f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{self.function_name}"
        )
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_module(spec: FunctionSpec) -> ModuleType:
    module_name = spec.handler.rpartition(".")[0]
    return _load_module(spec.logical_id, spec.code_uri / f"{module_name.replace('.', '/')}.py")


def load_handler(spec: FunctionSpec) -> Handler:
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


def invoke(spec: FunctionSpec, event: Any) -> Any:
    context = LocalContext(spec.name, spec.memory, spec.timeout)
    return load_handler(spec)(event, context)
