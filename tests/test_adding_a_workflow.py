"""The promise of README's "Adding a workflow": a workflow, or a version, is its folder under statemachines/
and one block of template.yaml, and nothing else.

Each case adds one to a copy of the repository's layout, the folder first and then the block, and shows
that the template checks name the missing block until it is there and pass once it is; that the template
grew by that one resource; that the stack's IAM and its sync rule cover the new state machine without a
change; and that local mode deploys it and runs it to COMPLETED, telling the sync function on the way.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flowport import services
from flowport.local import eventbridge
from flowport.local.cloud import environment, running
from flowport.local.template import FunctionSpec, build_stack, load_template
from moto.events.models import EventPattern

from tests.iam_policies import EXECUTION_ACTION, Call, allows, calls_by_function, function_statements
from tests.support import TICKET, Api, load_event, wait_until
from tests.template_checks import logical_id_for, template_faults, workflow_faults

ROOT = Path(__file__).resolve().parents[1]
README_SECTION = "### Adding a workflow"


def readme_diff() -> str:
    """The one diff README's "Adding a workflow" shows."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(README_SECTION) :]
    section = section[: section.index("\n## ")]
    (diff,) = re.findall(r"^```diff\n(.*?)^```$", section, re.DOTALL | re.MULTILINE)
    return diff


def git_apply(root: Path, diff: str, *paths: str) -> None:
    """Apply the diff's changes to these paths (globs), as a user would apply README's."""
    includes = [f"--include={path}" for path in paths]
    applied = subprocess.run(
        ["git", "apply", "--verbose", "--whitespace=error", *includes, "-"],
        cwd=root,
        input=diff,
        text=True,
        capture_output=True,
        check=False,
    )
    assert applied.returncode == 0, f"README's diff no longer applies: {applied.stderr}"
    # Exactly where it says: its line numbers are the template's as it is now.
    assert "offset" not in applied.stderr, f"README's diff applies, but off its lines: {applied.stderr}"


@dataclass(frozen=True)
class Addition:
    """A workflow version to add: how its folder comes to be, and how its block is added."""

    workflow: str
    version: int
    add_folder: Callable[[Path], None]
    # Given the layout and the fault that names the missing block; None: the fault's own block is added.
    add_block: Callable[[Path, str], None] | None
    start_input: dict[str, Any]
    expected_output: dict[str, Any]


def _insert_block_from_fault(root: Path, fault: str) -> None:
    """What the fault says to do: paste its block into the template's Resources, after the others."""
    block = fault.split("\n\n", 1)[1]
    template = root / "template.yaml"
    text = template.read_text(encoding="utf-8")
    assert text.count("\nOutputs:\n") == 1, "the block goes at the end of Resources, before Outputs"
    template.write_text(text.replace("\nOutputs:\n", f"\n{block}\nOutputs:\n"), encoding="utf-8")


def _readme_folder(root: Path) -> None:
    git_apply(root, readme_diff(), "statemachines/*")


def _readme_block(root: Path, _fault: str) -> None:
    git_apply(root, readme_diff(), "template.yaml")


def _copy_of_ticket_triage_v1(root: Path) -> None:
    source, folder = root / "statemachines" / "ticket-triage", root / "statemachines" / "ticket-routing"
    folder.mkdir()
    shutil.copy(source / "v1.asl.json", folder / "v1.asl.json")
    settings = json.loads((source / "workflow.json").read_text())
    (folder / "workflow.json").write_text(json.dumps({**settings, "versions": [1]}, indent=2))


def _third_version_of_ticket_triage(root: Path) -> None:
    folder = root / "statemachines" / "ticket-triage"
    shutil.copy(folder / "v2.asl.json", folder / "v3.asl.json")
    settings = json.loads((folder / "workflow.json").read_text())
    (folder / "workflow.json").write_text(json.dumps({**settings, "versions": [1, 2, 3]}, indent=2))


ROUTED = {"queue": "priority", "slaHours": 4}
ADDITIONS = {
    "readme-diff": Addition(
        "invoice-reminder",
        1,
        _readme_folder,
        _readme_block,
        {"invoiceId": "inv-7", "daysOverdue": 45},
        {"invoiceId": "inv-7", "remindIn": "P0D"},
    ),
    "copied-workflow": Addition("ticket-routing", 1, _copy_of_ticket_triage_v1, None, TICKET, ROUTED),
    "new-version": Addition("ticket-triage", 3, _third_version_of_ticket_triage, None, TICKET, ROUTED),
}


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """A copy of the repository's layout: the template and statemachines/ copied, the code linked."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(ROOT / "template.yaml", root / "template.yaml")
    shutil.copytree(ROOT / "statemachines", root / "statemachines")
    for code in ("functions", "layers"):
        (root / code).symlink_to(ROOT / code, target_is_directory=True)
    # A repository of its own, so that `git apply` patches paths relative to it (not to one around tmp).
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def test_readme_shows_one_folder_and_one_block():
    diff = readme_diff()
    changed = re.findall(r"^\+\+\+ b/(\S+)$", diff, re.MULTILINE)
    assert changed[-1] == "template.yaml"
    assert {Path(path).parent for path in changed[:-1]} == {Path("statemachines/invoice-reminder")}
    template_hunks = diff[diff.index("+++ b/template.yaml") :]
    assert not re.search(r"^-", template_hunks.split("\n", 1)[1], re.MULTILINE), "the diff removes nothing"
    assert len(re.findall(r"^@@ ", template_hunks, re.MULTILINE)) == 1
    assert len(re.findall(r"^\+  \S.*:$", template_hunks, re.MULTILINE)) == 1  # one resource's key


@pytest.mark.parametrize("addition", ADDITIONS.values(), ids=ADDITIONS.keys())
def test_a_workflow_or_version_is_its_folder_and_one_block(
    addition: Addition, layout: Path, monkeypatch: pytest.MonkeyPatch
):
    logical_id = logical_id_for(addition.workflow, addition.version)
    before = load_template(layout / "template.yaml")

    # The folder alone: the checks say which block is missing, and give it.
    addition.add_folder(layout)
    (fault,) = workflow_faults(before, layout)
    assert fault.startswith(
        f"statemachines/{addition.workflow}/workflow.json lists version {addition.version}, which "
        "template.yaml does not deploy: add this block"
    )
    assert f"  {logical_id}:\n" in fault

    # (1) With the block, every template check passes.
    (addition.add_block or _insert_block_from_fault)(layout, fault)
    faults = template_faults(layout)
    assert not faults, "\n\n".join(faults)
    after = load_template(layout / "template.yaml")
    assert set(after["Resources"]) - set(before["Resources"]) == {logical_id}
    assert {k: v for k, v in after.items() if k != "Resources"} == {
        k: v for k, v in before.items() if k != "Resources"
    }
    assert {k: v for k, v in after["Resources"].items() if k != logical_id} == before["Resources"]

    # (2) The derived IAM and the sync rule take the new state machine in, unchanged.
    stack = build_stack(layout / "template.yaml")
    machine = stack.state_machines[logical_id]
    execution = f"{machine.arn.replace(':stateMachine:', ':execution:')}:an-execution"
    assert machine.arn.endswith(f":stateMachine:flowport-local-{addition.workflow}-v{addition.version}")
    assert allows(function_statements(after, "StartFunction"), Call("states:StartExecution", machine.arn))
    for function in (
        "StartFunction",
        "StatusFunction",
        "StreamFunction",
        "CancelFunction",
        "ConductorFunction",
        "SyncFunction",
    ):
        action = EXECUTION_ACTION.get(function, "states:DescribeExecution")
        assert allows(function_statements(after, function), Call(action, execution))
    (rule,) = stack.functions["SyncFunction"].rules
    status_change = load_event("execution-status-change")
    status_change["detail"].update({"stateMachineArn": machine.arn, "executionArn": execution})
    assert EventPattern.load(json.dumps(rule.pattern)).matches_event(status_change)

    # (3) Local mode deploys it and runs it; the local EventBridge tells the sync function how it went.
    for name in environment(stack):
        monkeypatch.delenv(name, raising=False)  # deploying sets them: put back what was there after
    delivered: list[tuple[str, str, str]] = []
    deliver = eventbridge.invoke

    def deliver_and_note(spec: FunctionSpec, event: dict[str, Any]) -> Any:
        delivered.append((spec.logical_id, event["detail"]["stateMachineArn"], event["detail"]["status"]))
        return deliver(spec, event)

    monkeypatch.setattr(eventbridge, "invoke", deliver_and_note)
    try:
        with running(stack) as cloud, calls_by_function() as calls:
            api = Api(cloud.stack)
            started = api.start(
                addition.workflow, body=addition.start_input, query={"version": str(addition.version)}
            )
            assert started.status == 202, started.body
            execution_id = started.json()["executionId"]
            finished = api.wait_for_status(execution_id, "COMPLETED", "FAILED")
            assert (finished["status"], finished["version"]) == ("COMPLETED", addition.version), finished
            assert finished["output"] == {**finished["output"], **addition.expected_output}
            wait_until(lambda: ("SyncFunction", machine.arn, "SUCCEEDED") in delivered)
            assert cloud.events is not None
            wait_until(cloud.events.idle)
    finally:
        services.reset()
    assert ("SyncFunction", machine.arn, "RUNNING") in delivered
    started_machines = {
        c.resource for c in calls.made["StartFunction"] if c.action == "states:StartExecution"
    }
    assert started_machines == {machine.arn}
    for function, made in calls.made.items():
        refused = {call for call in made if not allows(function_statements(after, function), call)}
        assert not refused, f"{function} may not make {refused}"
