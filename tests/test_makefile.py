"""The Makefile's installs: quiet, reading the project's pip configuration rather than the user's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _make_variable(name: str, **environment: str) -> str:
    """A variable as the Makefile's recipes see it (make's own evaluation, nothing installed)."""
    probe = f"print-{name}:\n\t@echo $${name}\n"
    result = subprocess.run(
        ["make", "--no-print-directory", "-f", "Makefile", "-f", "-", f"print-{name}"],
        cwd=ROOT,
        input=probe,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **environment},
    )
    return result.stdout.strip()


def test_installs_read_the_projects_pip_conf_and_not_the_users(tmp_path: Path):
    """A user pip.conf naming a file:// index without a page per package makes pip warn once per package
    it lacks ("Location ... is ignored"), -q or not: the Makefile's installs do not read it."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PIP_CONFIG_FILE", "XDG_CONFIG_HOME")
    }
    config_file = _make_variable("PIP_CONFIG_FILE", **environment)
    assert Path(config_file) == ROOT / "pip.conf"
    user_config = tmp_path / ".config" / "pip" / "pip.conf"
    user_config.parent.mkdir(parents=True)
    user_config.write_text(f"[global]\nextra-index-url = file://{tmp_path}/partial-mirror/simple\n")
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=True,
        env={**environment, "HOME": str(tmp_path), "PIP_CONFIG_FILE": config_file},
    ).stdout
    assert "partial-mirror" not in listed
    # Without it, pip does read that user file: the test would catch pip changing the rule.
    unset = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=True,
        env={**environment, "HOME": str(tmp_path)},
    ).stdout
    assert "partial-mirror" in unset


def test_a_pip_config_file_of_ones_own_is_kept():
    assert _make_variable("PIP_CONFIG_FILE", PIP_CONFIG_FILE="/somewhere/pip.conf") == "/somewhere/pip.conf"
