"""Figure 5: deployment size per function and layer after `sam build` (unzipped), against Lambda's limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowport.local.template import Stack

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".aws-sam" / "build"
LIMIT_MB = 250.0  # function code and all its layers, unzipped: 262,144,000 bytes


def _size_mb(folder: Path) -> float:
    total = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())
    return round(total / 2**20, 2)


def measure(stack: Stack, build: Path = BUILD) -> dict[str, Any]:
    if not (build / "template.yaml").is_file():
        return {"_unavailable": f"no sam build output in {build}: SAM CLI missing or `sam build` failed"}
    layers = {name: _size_mb(build / name) for name in stack.layers if (build / name).is_dir()}
    figures: dict[str, Any] = {}
    for spec in stack.functions.values():
        if (build / spec.logical_id).is_dir():
            figures[spec.code_uri.name] = _size_mb(build / spec.logical_id)
    figures.update(layers)
    # Every function carries the Globals' layers, the API functions the workflows' too: the worst case is
    # the largest function with every layer.
    largest = max(value for key, value in figures.items() if key not in layers)
    figures["_largest_function_with_all_layers_mb"] = round(largest + sum(layers.values()), 2)
    figures["_limit_mb"] = LIMIT_MB
    return figures
