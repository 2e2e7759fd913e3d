"""The layers ship compiled bytecode (Lambda's /opt is read-only, so it cannot cache its own) and only
what runs in Lambda."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from flowport.local.template import build_stack, load_template

ROOT = Path(__file__).resolve().parents[1]
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


def test_every_layer_with_python_code_is_built_by_its_makefile():
    resources = load_template(ROOT / "template.yaml")["Resources"]
    for layer in ("DependenciesLayer", "FlowportLayer"):
        assert resources[layer]["Metadata"]["BuildMethod"] == "makefile", layer
        assert (
            f"build-{layer}:"
            in (ROOT / resources[layer]["Properties"]["ContentUri"] / "Makefile").read_text()
        )


def test_the_flowport_layer_holds_the_package_compiled_without_its_local_mode_and_client(tmp_path: Path):
    layer = build_stack(ROOT / "template.yaml").layers["FlowportLayer"]
    subprocess.run(
        [
            "make",
            "-C",
            str(layer.content_uri),
            "build-FlowportLayer",
            f"ARTIFACTS_DIR={tmp_path}",
            f"PYTHON={sys.executable}",
        ],
        check=True,
        capture_output=True,
    )
    package = tmp_path / "python" / "flowport"

    sources = sorted(path.relative_to(package) for path in package.rglob("*.py"))
    assert Path("core/status.py") in sources
    assert Path("usecases/start.py") in sources
    assert Path("api/routes/start.py") in sources
    assert not (package / "local").exists()
    assert not (package / "client").exists()
    for source in sources:
        [compiled] = (package / source.parent / "__pycache__").glob(f"{source.stem}.cpython-311.pyc")
        flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
        assert flags == UNCHECKED_HASH, source
