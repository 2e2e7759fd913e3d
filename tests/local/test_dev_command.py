"""`flowport dev`, the command `make dev` runs: starts, serves, stops on a signal, keeps state if asked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from flowport.local.cloud import local_gaps
from flowport.local.template import build_stack, load_template

from tests.local.dev_process import ROOT, free_port, start_dev, stop, wait_for_server
from tests.support import TICKET, wait_until

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
        started = requests.post(f"{url}/workflows/ticket-triage/executions", json=TICKET, timeout=10).json()
        wait_until(
            lambda: (
                requests.get(f"{url}/executions/{started['executionId']}", timeout=10).json()["status"]
                == "COMPLETED"
            )
        )
    finally:
        output = stop(process)
    assert f"flowport local API on {url}" in output
    assert "ticket-triage" in output
    assert_columns_align(_section(output, "workflows:"), ["versions", "enabled|disabled"])
    routes = _section(output, "routes:")
    assert any(line.split()[:2] == ["POST", "/workflows/{name}/executions"] for line in routes)
    assert_columns_align(routes, ["/|other", "->"])
    assert '"message": "request"' in output

    process = start_dev(port, tmp_path)
    try:
        wait_for_server(url)
        again = requests.get(f"{url}/executions/{started['executionId']}", timeout=10).json()
    finally:
        stop(process)
    assert again["status"] == "COMPLETED"
    assert again["output"]["queue"] == "priority"


def test_what_local_mode_cannot_reproduce_is_said_at_start(tmp_path: Path):
    assert local_gaps(build_stack(ROOT / "template.yaml")) == []  # the stack as shipped: nothing
    template = load_template(ROOT / "template.yaml")
    template["Resources"]["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    template["Resources"]["StartFunction"]["Properties"]["Events"]["Nightly"] = {
        "Type": "Schedule",
        "Properties": {"Schedule": "rate(1 day)"},
    }
    import yaml

    path = ROOT / f".template-gaps-{tmp_path.name}.yaml"
    path.write_text(yaml.safe_dump(template))
    try:
        gaps = local_gaps(build_stack(path))
    finally:
        path.unlink()
    assert gaps == [
        "Queue (AWS::SQS::Queue) is not emulated locally",
        "event StartFunction.Nightly (Schedule) is not emulated locally",
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
                description="x" * 200,
            ),
        }
    )
    lines = banner(registry, build_stack(ROOT / "template.yaml"))
    workflows = lines[1 : lines.index("routes:")]
    assert_columns_align(workflows, ["versions", "enabled|disabled", "short|x"])
    assert workflows[1].endswith("x" * 59 + "…")
    assert_columns_align(lines[lines.index("routes:") + 1 :], ["/|other", "->"])
