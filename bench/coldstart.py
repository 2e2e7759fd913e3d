"""Figure 1: cold start proxy. Each sample is a fresh interpreter timing one import; function and boto3-only
samples are interleaved so the machine's noise falls on both alike."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from flowport.local.cloud import FAKE_CREDENTIALS
from flowport.local.template import FunctionSpec, Stack

from bench.stats import median, ms, ratio

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.5
# Installed for this machine: `sam build` makes the dependencies layer for arm64, which cannot load here.
IMAGE = ROOT / ".aws-sam" / "bench-image"
DEPENDENCIES = ROOT / "layers" / "dependencies" / "requirements.txt"
_TIMED = "import time; started = time.perf_counter()\n{statement}\nprint(time.perf_counter() - started)"
# Before any flowport code, every API function loads these libraries the way flowport configures them.
_LIBRARIES = (
    "import boto3; from pydantic import BaseModel; "
    "from aws_lambda_powertools.event_handler import APIGatewayRestResolver; "
    "APIGatewayRestResolver(enable_validation=True); "
)
STACK_FLOOR = _LIBRARIES + "import flowport.observability"
# The same without the tracer, whose X-Ray SDK is the one part a design change could drop.
UNTRACED_FLOOR = _LIBRARIES + "from aws_lambda_powertools import Logger, Metrics; Logger(); Metrics()"


@dataclass(frozen=True)
class Sample:
    name: str
    statement: str
    environ: dict[str, str]
    cwd: Path


def _installed(target: Path, requirements: list[str]) -> Path:
    """`pip install --target`, redone only when the requirements change."""
    stamp = target / ".requirements"
    wanted = "\n".join(requirements)
    if not (stamp.is_file() and stamp.read_text() == wanted):
        shutil.rmtree(target, ignore_errors=True)
        installed = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), *requirements],
            capture_output=True,
            text=True,
        )
        if installed.returncode:
            raise RuntimeError(f"pip could not install {requirements} into {target}:\n{installed.stderr}")
        stamp.write_text(wanted)
    return target


def lambda_paths(stack: Stack) -> list[Path]:
    """Lambda's import path after the function's code: the layers (/opt/python), then the runtime's SDK.

    Only what ships is importable, not the development environment: the X-Ray SDK, for one, patches
    whichever supported libraries it can import.
    """
    layers = [spec.content_uri for name, spec in sorted(stack.layers.items()) if name != "DependenciesLayer"]
    requirements = [
        line.strip()
        for line in DEPENDENCIES.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    dependencies = _installed(IMAGE / "dependencies", requirements)
    runtime = _installed(IMAGE / "runtime", [f"boto3=={version('boto3')}"])
    return [*layers, dependencies, runtime]


def _environment(function: FunctionSpec, paths: list[Path]) -> dict[str, str]:
    """What Lambda gives the process: the template's variables, its own, nothing from this shell."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        **FAKE_CREDENTIALS,
        **function.environment,
        "FLOWPORT_WORKFLOWS_PATH": str(ROOT / "statemachines"),
        "LAMBDA_TASK_ROOT": str(function.code_uri),  # the X-Ray SDK takes its Lambda path on this
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": function.handler,
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
    paths = lambda_paths(stack)
    functions = sorted(stack.functions.values(), key=lambda spec: spec.code_uri.name)
    api_function = stack.functions["StartFunction"]
    baselines = [
        Sample("_boto3", "import boto3", _environment(api_function, paths), ROOT),
        Sample("_stack_floor", STACK_FLOOR, _environment(api_function, paths), ROOT),
        Sample("_stack_floor_untraced", UNTRACED_FLOOR, _environment(api_function, paths), ROOT),
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
    # One untimed round first: bytecode caches are written then, as they are shipped in a real package.
    for round_number in range(samples + 1):
        for sample in [*baselines, *handlers]:
            measured = _time(sample)
            if round_number:
                timings[sample.name].append(measured)
    boto3_median = median(timings.pop("_boto3"))
    floor_median = median(timings["_stack_floor"])
    figures: dict[str, Any] = {
        name: {
            "import_ms": ms(median(values)),
            "boto3_ms": ms(boto3_median),
            "ratio_vs_boto3": ratio(median(values), boto3_median),
            "ratio_vs_stack_floor": ratio(median(values), floor_median),
            "samples": len(values),
        }
        for name, values in timings.items()
    }
    figures["_method"] = (
        f"median of {samples} fresh interpreters (`python -S`) per function, each timing `import app` as "
        "Lambda would run it: the function's and Lambda's environment variables (tracing on, as deployed), "
        "its code, the layers and the runtime's boto3 alone on the path (the dependencies layer installed "
        "for this machine); boto3 baseline: importing only boto3; stack floor: boto3, pydantic and "
        "Powertools' logger, metrics, tracer and validating resolver, as flowport configures them, before "
        "any flowport code (untraced: the same without the tracer and its X-Ray SDK); all interleaved in "
        f"rounds; target ratio <= {TARGET_RATIO}"
    )
    return figures
