"""What a function's cold start imports: its own use cases, at init, and not the other functions'.

flowport.services builds each use case lazily so that a function does not load the others'; what its
handler does run is imported at init (services.load_use_cases), where `make bench` measures it and where
Lambda does the work before the first request, rather than inside it.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flowport.local.cloud import FAKE_CREDENTIALS
from flowport.local.template import FunctionSpec, Stack

ROOT = Path(__file__).resolve().parents[1]
SERVED = (
    "StartFunction",
    "StatusFunction",
    "StreamFunction",
    "CancelFunction",
    "AdminFunction",
    "SyncFunction",
    "AuthorizerFunction",
)

# Imports the function's module as Lambda would, then builds every use case its code asks services for,
# as its first request would: prints the flowport modules that only the building imported.
_FIRST_REQUEST = """
import ast, importlib, json, pathlib, sys
import app
from flowport import services

sources = [pathlib.Path(app.__file__)] + [
    pathlib.Path(module.__file__) for name, module in list(sys.modules.items())
    if name.startswith("flowport.api.routes.") and getattr(module, "__file__", None)
]
used = sorted({
    node.attr for source in sources for node in ast.walk(ast.parse(source.read_text()))
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "services"
    and node.attr not in ("load_use_cases", "reset")
})
at_init = {name for name in sys.modules if name.startswith("flowport")}
openapi_models_at_init = "aws_lambda_powertools.event_handler.openapi.models" in sys.modules
from flowport.core import models
built_at_init = sorted(
    name for name, value in vars(models).items()
    if getattr(value, "__pydantic_complete__", False) and value.__module__ == models.__name__
)
for name in used:
    getattr(services, name)()
print(json.dumps({
    "used": used,
    "at_init": sorted(at_init),
    "models_built_at_init": built_at_init,
    "openapi_models_at_init": openapi_models_at_init,
    "first_request": sorted({name for name in sys.modules if name.startswith("flowport")} - at_init),
}))
"""


def _first_request(spec: FunctionSpec) -> dict[str, Any]:
    environ = {**os.environ, **FAKE_CREDENTIALS, **spec.environment}
    completed = subprocess.run(
        [sys.executable, "-c", _FIRST_REQUEST],
        env={**environ, "PYTHONPATH": os.pathsep.join([str(spec.code_uri), str(ROOT)])},
        cwd=spec.code_uri,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize("function", SERVED)
def test_a_functions_first_request_imports_no_flowport_module_its_init_did_not(stack: Stack, function: str):
    result = _first_request(stack.functions[function])

    assert result["used"]  # the routes were found, and ask services for something
    assert result["first_request"] == []


def test_a_function_does_not_import_the_use_cases_of_the_others(stack: Stack):
    at_init = {function: set(_first_request(stack.functions[function])["at_init"]) for function in SERVED}
    use_cases = {
        function: {name.rpartition(".")[2] for name in modules if name.startswith("flowport.usecases.")}
        for function, modules in at_init.items()
    }

    # A retry and a rerun start too; a start checks its callback (webhooks).
    assert use_cases["StartFunction"] == {"start", "admission", "retry", "webhooks"}
    assert use_cases["CancelFunction"] == {"cancel"}  # no status reader: it reads no live view
    assert use_cases["StreamFunction"] == {"read", "live"}
    assert use_cases["AdminFunction"] == {"admin", "webhooks"}  # webhook secrets are rotated there
    assert use_cases["AuthorizerFunction"] == {"authorize"}
    # Only the admin function and the authorizer reach the principals' items (it only reads them).
    assert {function for function, modules in at_init.items() if "flowport.aws.principals" in modules} == {
        "AdminFunction",
        "AuthorizerFunction",
    }
    assert "start" not in use_cases["StatusFunction"]
    # A start reads no history: the history reader is for the functions that read executions.
    assert "flowport.core.history" not in at_init["StartFunction"]
    assert "flowport.core.history" in at_init["StatusFunction"]
    # The search's query planning is the status function's: the others only write its index keys.
    assert {function for function, modules in at_init.items() if "flowport.core.search" in modules} == {
        "StatusFunction"
    }


# The bodies of the status function's rarely taken routes (history, search, workflows): no function's
# common request builds them, so no init does (flowport.core.models).
ON_FIRST_USE = {
    "ExecutionHistory",
    "NodeEntry",
    "ExecutionPage",
    "WorkflowLinks",
    "WorkflowView",
    "WorkflowList",
}


@pytest.mark.parametrize("function", SERVED)
def test_no_function_builds_the_models_of_rarely_taken_routes_at_init(stack: Stack, function: str):
    built = set(_first_request(stack.functions[function])["models_built_at_init"])

    assert "ExecutionRecord" in built
    assert built.isdisjoint(ON_FIRST_USE)


@pytest.mark.parametrize("function", SERVED)
def test_no_function_imports_the_openapi_models_at_init(stack: Stack, function: str):
    """Powertools' OpenAPI models (some 140 ms) are for GET /openapi.json's first request alone: the
    security schemes are built there (flowport.api.security), not in every resolver."""
    assert _first_request(stack.functions[function])["openapi_models_at_init"] is False


def test_services_imports_no_use_case_at_the_top():
    tree = ast.parse((ROOT / "layers" / "flowport" / "flowport" / "services.py").read_text())
    top_level = [
        node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("flowport.usecases")
    ]
    assert top_level == []
