"""`flowport dev`, the command `make dev` runs: starts, serves, stops on a signal, keeps state if asked."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import requests
from flowport.local.cloud import LocalCloud, local_gaps
from flowport.local.template import build_stack, load_template

from tests.local.dev_process import ROOT, dev_key, free_port, start_dev, stop, wait_for_server
from tests.support import TICKET, KeyedServer, wait_until

pytestmark = pytest.mark.e2e


def _section(output: str, heading: str) -> list[str]:
    """The indented lines under `heading` in the banner."""
    lines = output.splitlines()
    start = lines.index(heading) + 1
    section = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        section.append(line)
    assert section, output
    return section


def assert_columns_align(lines: list[str], markers: list[str]) -> None:
    """Each marker (a regular expression) starts at the same column on every line."""
    for marker in markers:
        starts = {re.search(rf"(?<=\s)({marker})", line).start() for line in lines}  # type: ignore[union-attr]
        assert len(starts) == 1, (marker, lines)


def test_dev_serves_the_api_and_keeps_finished_executions_across_restarts(tmp_path: Path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = start_dev(port, tmp_path)
    try:
        wait_for_server(url)
        key_file = tmp_path / "dev-admin-key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        dev = KeyedServer(url, dev_key(tmp_path))
        refused = requests.post(f"{url}/workflows/ticket-triage/executions", json=TICKET, timeout=10)
        assert (refused.status_code, refused.json()["code"]) == (401, "unauthorized")
        started = dev.http.post(f"{url}/workflows/ticket-triage/executions", json=TICKET, timeout=10).json()
        wait_until(
            lambda: (
                dev.http.get(f"{url}/executions/{started['executionId']}", timeout=10).json()["status"]
                == "COMPLETED"
            )
        )
    finally:
        output = stop(process)
    assert f"flowport local API on {url}" in output
    assert f"dev admin key (every scope; also in {key_file}): {dev.key}" in output
    assert "ticket-triage" in output
    assert_columns_align(_section(output, "workflows:"), ["versions", "enabled|disabled"])
    routes = _section(output, "routes:")
    assert any(line.split()[:2] == ["POST", "/workflows/{name}/executions"] for line in routes)
    assert_columns_align(routes, ["/|other", "->"])
    assert '"message": "request"' in output

    process = start_dev(port, tmp_path)
    try:
        wait_for_server(url)
        assert dev_key(tmp_path) == dev.key  # it still authenticates against the restored table
        again = dev.http.get(f"{url}/executions/{started['executionId']}", timeout=10).json()
    finally:
        stop(process)
    assert again["status"] == "COMPLETED"
    assert again["output"]["queue"] == "priority"


def test_what_local_mode_cannot_reproduce_is_said_at_start(tmp_path: Path):
    assert local_gaps(build_stack(ROOT / "template.yaml")) == []  # the stack as shipped: nothing
    template = load_template(ROOT / "template.yaml")
    template["Resources"]["Topic"] = {"Type": "AWS::SNS::Topic", "Properties": {}}
    template["Resources"]["StartFunction"]["Properties"]["Events"]["Jobs"] = {
        "Type": "SNS",
        "Properties": {"Topic": "arn:aws:sns:us-east-1:123456789012:jobs"},
    }
    import yaml

    path = ROOT / f".template-gaps-{tmp_path.name}.yaml"
    path.write_text(yaml.safe_dump(template))
    try:
        gaps = local_gaps(build_stack(path))
    finally:
        path.unlink()
    assert gaps == [
        "Topic (AWS::SNS::Topic) is not emulated locally",
        "event StartFunction.Jobs (SNS) is not emulated locally",
    ]


def test_the_banner_aligns_its_columns_whatever_their_widths():
    from flowport.core.registry import Registry, Workflow
    from flowport.local.cli import banner

    registry = Registry(
        {
            "a": Workflow(name="a", versions=(1,), description="short"),
            "a-much-longer-workflow-name-than-twenty": Workflow(
                name="a-much-longer-workflow-name-than-twenty",
                versions=tuple(range(1, 12)),
                enabled=False,
                maxConcurrency=3,
                description="x" * 200,
            ),
        }
    )
    lines = banner(registry, build_stack(ROOT / "template.yaml"))
    workflows = lines[1 : lines.index("routes:")]
    assert_columns_align(workflows, ["versions", "enabled|disabled", r"no limit|\d+ at once", "short|x"])
    assert workflows[1].endswith("x" * 59 + "…")
    assert_columns_align(lines[lines.index("routes:") + 1 : lines.index("schedules:")], ["/|other", "->"])
    assert lines[lines.index("schedules:") + 1 :] == ["  every 60 s  -> ReconcileFunction"]


def test_the_dev_key_is_replaced_when_it_no_longer_authenticates(cloud: LocalCloud, tmp_path: Path):
    """A start without --state-dir has a new table: the key file of the last run is replaced."""
    from flowport.local.dev_key import dev_admin_key

    stale = tmp_path / "dev-admin-key"
    stale.write_text("fpk_" + "0" * 43 + "\n")
    key, path = dev_admin_key(tmp_path)
    assert path == stale
    assert path.read_text().strip() == key != "fpk_" + "0" * 43
    assert path.stat().st_mode & 0o777 == 0o600
    assert dev_admin_key(tmp_path) == (key, path)  # reused while it authenticates
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        assert not subprocess.run(
            ["git", "check-ignore", "-q", ".flowport/dev-admin-key"], cwd=ROOT
        ).returncode
