"""Tracing is Lambda's own and the X-Ray SDK stays out: active tracing on in the template, the trace id in
every log line, and nothing that ships requires or imports `aws_xray_sdk`."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from flowport.local.cloud import LocalCloud
from flowport.local.functions import invoke, load_module
from flowport.local.template import Stack, load_template
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import TICKET, Api, HandlerStreams, wait_until
from tests.sync.test_sync import status_change

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "layers" / "dependencies" / "requirements.txt"
XRAY_SDK = "aws-xray-sdk"
# The header Lambda puts in the environment of each invocation when active tracing is on.
TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
TRACE_HEADER = f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1"


def test_functions_api_and_state_machines_keep_active_tracing():
    template = load_template(ROOT / "template.yaml")
    assert template["Globals"]["Function"]["Tracing"] == "Active"
    resources = template["Resources"]
    functions = [r for r in resources.values() if r["Type"] == "AWS::Serverless::Function"]
    assert functions
    assert all(r["Properties"].get("Tracing", "Active") == "Active" for r in functions)
    assert resources["FlowportApi"]["Properties"]["TracingEnabled"] is True
    machines = [r for r in resources.values() if r["Type"] == "AWS::Serverless::StateMachine"]
    assert machines
    assert all(r["Properties"]["Tracing"] == {"Enabled": True} for r in machines)


def _closure(requirements: list[Requirement]) -> set[str]:
    """Every distribution these requirements pull in, with their extras, as installed here (the
    development environment installs the layer's pins, see Makefile)."""
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [(r.name, frozenset(r.extras)) for r in requirements if not r.marker or r.marker.evaluate()]
    while pending:
        name, extras = pending.pop()
        if (canonicalize_name(name), extras) in seen:
            continue
        seen.add((canonicalize_name(name), extras))
        try:
            required = distribution(name).requires or []
        except PackageNotFoundError:
            continue  # not installed here: whatever it requires cannot be checked, nor can it be us
        for line in required:
            requirement = Requirement(line)
            wanted = [{"extra": extra} for extra in extras or {""}]
            if requirement.marker is None or any(requirement.marker.evaluate(env) for env in wanted):
                pending.append((requirement.name, frozenset(requirement.extras)))
    return {name for name, _ in seen}


def _layer_requirements() -> list[Requirement]:
    lines = [line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines()]
    return [Requirement(line) for line in lines if line]


def test_the_dependencies_layer_does_not_pull_the_xray_sdk_in():
    requirements = _layer_requirements()
    closure = _closure(requirements)
    assert "aws-lambda-powertools" in closure
    assert "pydantic-core" in closure  # the walk does follow requirements down
    assert XRAY_SDK not in closure
    # The check can fail: Powertools' tracer extra is the way it used to come in.
    traced = [
        Requirement(f"{r.name}[tracer]") if r.name == "aws-lambda-powertools" else r for r in requirements
    ]
    assert XRAY_SDK in _closure(traced)


def test_the_package_does_not_require_the_xray_sdk():
    # pyproject.toml itself: the installed metadata of an editable install can be older than it.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert XRAY_SDK not in _closure([Requirement(line) for line in project["dependencies"]])


_IMPORT_EVERY_FUNCTION = """
import importlib.util, json, sys
for name, source in json.loads(sys.argv[1]).items():
    spec = importlib.util.spec_from_file_location(name, source)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] == "aws_xray_sdk")))
"""


def test_importing_every_function_leaves_the_xray_sdk_out(stack: Stack):
    # A fresh interpreter: this one has moto loaded, whose server mode imports the X-Ray SDK (which is
    # why the development environment still has it installed: a stray import would succeed).
    sources = {
        f"function_{spec.logical_id}": str(spec.code_uri / "app.py") for spec in stack.functions.values()
    }
    completed = subprocess.run(
        [sys.executable, "-c", _IMPORT_EVERY_FUNCTION, json.dumps(sources)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=60,
    )
    assert json.loads(completed.stdout.splitlines()[-1]) == []


def _imports(source: Path) -> Iterator[str]:
    """Every module, and every name from a module, that a source file imports, at any depth."""
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def test_no_code_imports_the_xray_sdk_or_the_tracer_even_lazily():
    tracing = re.compile(r"^(aws_xray_sdk|aws_lambda_powertools\.tracing|aws_lambda_powertools\.Tracer$)")
    sources = [*ROOT.glob("layers/flowport/flowport/**/*.py"), *ROOT.glob("functions/*/*.py")]
    assert len(sources) > 20
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sources
        for name in _imports(path)
        if tracing.match(name)
    ]
    assert found == []
    # The check can fail: the import this module used to have.
    probe = ROOT / "layers" / "flowport" / "flowport" / "observability.py"
    assert "aws_lambda_powertools.Logger" in _imports(probe)


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_every_log_line_carries_lambdas_trace_id(
    cloud: LocalCloud, api: Api, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    functions = stack.functions
    for name in ("SyncFunction", "ParseDocumentFunction"):
        load_module(functions[name])  # its logging handlers exist before their streams are captured
    execution_id = str(api.start(body={**TICKET, "delaySeconds": 60}).json()["executionId"])
    wait_until(lambda: api.get(execution_id).json()["status"] == "RUNNING")
    cloud.close()  # only the event below reaches the sync function
    monkeypatch.setenv("_X_AMZN_TRACE_ID", TRACE_HEADER)

    with HandlerStreams() as streams:
        invoke(functions["SyncFunction"], status_change(cloud, execution_id, "SUCCEEDED", output="{}"))
        invoke(functions["ParseDocumentFunction"], {"document": "# Title\n\nSome text."})

    lines = _json_lines(streams.buffer.getvalue())
    assert {line["message"] for line in lines} >= {"status change", "Document parsed"}
    assert all(line.get("xray_trace_id") == TRACE_ROOT for line in lines), lines
