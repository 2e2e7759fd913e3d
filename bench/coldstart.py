"""Figure 1: cold start proxy. Each sample is a fresh interpreter timing one import; function and boto3-only
samples are interleaved so the machine's noise falls on both alike."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from flowport.local.cloud import FAKE_CREDENTIALS
from flowport.local.template import Stack

from bench.stats import median, ms, ratio

ROOT = Path(__file__).resolve().parents[1]
TARGET_RATIO = 1.5
_TIMED_IMPORT = (
    "import time, importlib; started = time.perf_counter(); importlib.import_module({module!r}); "
    "print(time.perf_counter() - started)"
)


def _environment(function: Any) -> dict[str, str]:
    """What Lambda would give the function: its template variables, the layers on the path, Lambda's own."""
    environ = {
        key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_", "FLOWPORT_"))
    }
    environ.update(FAKE_CREDENTIALS)
    environ.update(function.environment)
    environ["FLOWPORT_WORKFLOWS_PATH"] = str(ROOT / "statemachines")
    environ["AWS_LAMBDA_FUNCTION_NAME"] = function.name
    environ["AWS_EXECUTION_ENV"] = "AWS_Lambda_python3.11"
    environ["PYTHONPATH"] = os.pathsep.join([str(function.code_uri), str(ROOT / "layers" / "flowport")])
    environ.pop("PYTHONDONTWRITEBYTECODE", None)  # the untimed first round writes the bytecode caches
    return environ


def _sample(module: str, environ: dict[str, str], cwd: Path) -> float:
    completed = subprocess.run(
        [sys.executable, "-c", _TIMED_IMPORT.format(module=module)],
        env=environ,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(completed.stdout.strip().splitlines()[-1])


def measure(stack: Stack, samples: int = 7) -> dict[str, Any]:
    functions = sorted(stack.functions.values(), key=lambda spec: spec.code_uri.name)
    environments = {spec.code_uri.name: _environment(spec) for spec in functions}
    baseline_environ = next(iter(environments.values()))
    timings: dict[str, list[float]] = {name: [] for name in environments}
    boto3_only: list[float] = []
    # One untimed round first: bytecode caches are written then, as they are shipped in a real package.
    for round_number in range(samples + 1):
        baseline = _sample("boto3", baseline_environ, ROOT)
        if round_number:
            boto3_only.append(baseline)
        for spec in functions:
            measured = _sample(
                spec.handler.rpartition(".")[0], environments[spec.code_uri.name], spec.code_uri
            )
            if round_number:
                timings[spec.code_uri.name].append(measured)
    boto3_median = median(boto3_only)
    figures: dict[str, Any] = {
        name: {
            "import_ms": ms(median(values)),
            "boto3_ms": ms(boto3_median),
            "ratio_vs_boto3": ratio(median(values), boto3_median),
            "samples": len(values),
        }
        for name, values in timings.items()
    }
    figures["_method"] = (
        f"median of {samples} fresh interpreters per function, each timing `import app` with the function's "
        "environment (tracing on, as deployed) and layers on PYTHONPATH; baseline: a fresh interpreter "
        f"importing only boto3, at the start of each round of functions; target ratio <= {TARGET_RATIO}"
    )
    return figures
