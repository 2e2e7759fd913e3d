"""Figure 1: cold start proxy. Each sample is a fresh interpreter timing one import; function and boto3-only
samples are interleaved so the machine's noise falls on both alike."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from flowport.local.cloud import FAKE_CREDENTIALS
from flowport.local.template import FunctionSpec, LayerSpec, Stack

from bench.stats import median, ms, paired_ratio

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.5
# What flowport's own code may add to the libraries' floor, for an API function.
TARGET_FLOOR_RATIO = 1.1
# The functions a request waits for: those behind routes, and the authorizer in front of them.
API_FUNCTIONS = (
    "start",
    "status",
    "stream",
    "cancel",
    "admin",
    "conductor",
    "console",
    "authorize",
    "deliveries",
)
# The layers as their Makefiles build them (with bytecode), for this machine: `sam build` makes them for
# arm64, whose binary modules cannot load here.
IMAGE = ROOT / ".aws-sam" / "bench-image"
_TIMED = "import time; started = time.perf_counter()\n{statement}\nprint(time.perf_counter() - started)"
# Before any flowport code, every API function loads these libraries the way flowport sets them up: the
# validating resolver, the Logger and Metrics, in the functions' own init (flowport.startup: no garbage
# collection, boto3 first). What a function takes beyond it is flowport's code.
STACK_FLOOR = (
    "from flowport.startup import init_phase\n"
    "with init_phase():\n"
    "    import boto3\n"
    "    from pydantic import BaseModel\n"
    "    from aws_lambda_powertools import Logger, Metrics\n"
    "    from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
    "    APIGatewayRestResolver(enable_validation=True)\n"
    "    Logger()\n"
    "    Metrics()"
)


@dataclass(frozen=True)
class Sample:
    name: str
    statement: str
    environ: dict[str, str]
    cwd: Path


def _run(command: list[str]) -> None:
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stdout}{completed.stderr}")


def _layer(spec: LayerSpec, **variables: str) -> Path:
    """The layer built by its own Makefile's recipe, as `sam build` does; its `python/` is /opt/python."""
    built = IMAGE / spec.logical_id
    shutil.rmtree(built, ignore_errors=True)
    settings = [f"{name}={value}" for name, value in {"ARTIFACTS_DIR": built, **variables}.items()]
    _run(["make", "--no-print-directory", "-C", str(spec.content_uri), f"build-{spec.logical_id}", *settings])
    return built / "python"


def _runtime_sdk() -> Path:
    """boto3 as the Lambda runtime has it: installed, compiled, behind the layers on the path."""
    runtime = IMAGE / "runtime"
    requirement = f"boto3=={version('boto3')}"
    stamp = runtime / ".requirement"
    if not (stamp.is_file() and stamp.read_text() == requirement):
        shutil.rmtree(runtime, ignore_errors=True)
        _run([sys.executable, "-m", "pip", "install", "--quiet", "--target", str(runtime), requirement])
        stamp.write_text(requirement)
    return runtime


def built_layers(stack: Stack) -> list[Path]:
    """The layers with Python code, in Lambda's order on the path (/opt/python)."""
    python = {"PYTHON": sys.executable}
    return [
        _layer(stack.layers["FlowportLayer"], **python),
        _layer(stack.layers["DependenciesLayer"], PLATFORM=f"manylinux2014_{platform.machine()}", **python),
    ]


def _without_bytecode(layer: Path) -> Path:
    """A copy of the layer as `sam build`'s Python builder would ship it: sources only."""
    copy = layer.parent.with_name(f"{layer.parent.name}-sources") / layer.name
    shutil.rmtree(copy.parent, ignore_errors=True)
    shutil.copytree(layer, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def lambda_paths(layers: list[Path]) -> list[Path]:
    """Lambda's import path after the function's code: the layers, then the runtime's SDK.

    Only what ships is importable, not the development environment's other packages.
    """
    return [*layers, _runtime_sdk()]


def _environment(function: FunctionSpec, paths: list[Path]) -> dict[str, str]:
    """What Lambda gives the process: the template's variables, its own, nothing from this shell."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        **FAKE_CREDENTIALS,
        **function.environment,
        "FLOWPORT_WORKFLOWS_PATH": str(ROOT / "statemachines"),
        "LAMBDA_TASK_ROOT": str(function.code_uri),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": function.handler,
        # Lambda cannot write bytecode beside read-only code: what a layer does not ship is compiled anew.
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": os.pathsep.join(str(path) for path in [function.code_uri, *paths]),
    }


def _time(sample: Sample) -> float:
    # -S: no site-packages, so nothing outside PYTHONPATH (the shipped code) can be imported.
    completed = subprocess.run(
        [sys.executable, "-S", "-c", _TIMED.format(statement=sample.statement)],
        env=sample.environ,
        cwd=sample.cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(completed.stdout.strip().splitlines()[-1])


def measure(stack: Stack, samples: int = 11) -> dict[str, Any]:
    layers = built_layers(stack)
    paths = lambda_paths(layers)
    functions = sorted(stack.functions.values(), key=lambda spec: spec.code_uri.name)
    api_function = stack.functions["StartFunction"]
    baselines = [
        Sample("_boto3", "import boto3", _environment(api_function, paths), ROOT),
        Sample("_stack_floor", STACK_FLOOR, _environment(api_function, paths), ROOT),
        # What the layers' Makefiles save: the same function with layers of sources only.
        Sample(
            "_start_without_bytecode",
            "import app",
            _environment(api_function, lambda_paths([_without_bytecode(layer) for layer in layers])),
            api_function.code_uri,
        ),
    ]
    handlers = [
        Sample(
            spec.code_uri.name,
            f"import {spec.handler.rpartition('.')[0]}",
            _environment(spec, paths),
            spec.code_uri,
        )
        for spec in functions
    ]
    timings: dict[str, list[float]] = {sample.name: [] for sample in [*baselines, *handlers]}
    # One untimed round first, to fill the machine's file cache.
    for round_number in range(samples + 1):
        for sample in [*baselines, *handlers]:
            measured = _time(sample)
            if round_number:
                timings[sample.name].append(measured)
    boto3 = timings.pop("_boto3")
    floor = timings["_stack_floor"]
    figures: dict[str, Any] = {
        name: {
            "import_ms": ms(median(values)),
            "boto3_ms": ms(median(boto3)),
            "ratio_vs_boto3": paired_ratio(values, boto3),
            "ratio_vs_stack_floor": paired_ratio(values, floor),
            "samples": len(values),
        }
        for name, values in timings.items()
    }
    figures["_targets"] = {
        "functions": list(API_FUNCTIONS),
        "ratio_vs_boto3": TARGET_RATIO,
        "ratio_vs_stack_floor": TARGET_FLOOR_RATIO,
    }
    figures["_method"] = (
        f"median of {samples} fresh interpreters (`python -S`) per function, each timing `import app` as "
        "Lambda would run it: the function's and Lambda's environment variables, its code, the layers as "
        "their Makefiles build them (with bytecode, for this machine) and the runtime's boto3 alone on the "
        "path, no bytecode written; boto3 baseline: importing only boto3; stack floor: boto3, pydantic and "
        "Powertools' validating resolver, logger and metrics, set up as flowport does (in its init: no "
        "garbage collection, boto3 first), before any flowport code; start without bytecode: the start "
        "function with the layers' sources only, as SAM's Python builder ships them; all interleaved in "
        "rounds, each ratio the median of the rounds' own ratios (a busy spell slows a whole round); "
        f"targets: API functions <= {TARGET_RATIO}x boto3 and <= {TARGET_FLOOR_RATIO}x the stack floor"
    )
    return figures
