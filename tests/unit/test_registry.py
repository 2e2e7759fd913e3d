"""Workflow settings: the shipped ones load, and bad ones are refused with a reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flowport.core.errors import VersionNotFound, WorkflowDisabled, WorkflowNotFound
from flowport.core.registry import Registry, Workflow
from pydantic import ValidationError

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_workflows_load():
    registry = Registry.load(ROOT / "statemachines")
    assert {"ticket-triage", "document-summary", "nightly-report"} <= set(registry)
    assert registry["ticket-triage"].latest_version == 2
    assert registry["document-summary"].content_variable == "document"
    assert not registry["nightly-report"].enabled


def test_versions_resolve_to_the_latest_or_a_known_one():
    workflow = Workflow(name="w", versions=(3, 1, 2))
    assert workflow.versions == (1, 2, 3)
    assert workflow.resolve_version(None) == 3
    assert workflow.resolve_version(2) == 2
    with pytest.raises(VersionNotFound):
        workflow.resolve_version(4)


def test_unknown_and_disabled_workflows():
    registry = Registry(
        {"on": Workflow(name="on", versions=(1,)), "off": Workflow(name="off", versions=(1,), enabled=False)}
    )
    with pytest.raises(WorkflowNotFound):
        registry.find("missing")
    registry.find("on").require_enabled()
    with pytest.raises(WorkflowDisabled):
        registry.find("off").require_enabled()


@pytest.mark.parametrize(
    "settings",
    [
        {"versions": []},
        {"versions": [1, 1]},
        {"versions": [0]},
        {"versions": [1], "statusVariables": ["not valid"]},
        {"versions": [1], "inputSchema": {"type": "no-such-type"}},
        {"versions": [1], "retentionHours": 0},
        {"versions": [1], "unknownSetting": True},
        {"versions": [1], "searchableInputFields": ["a", "b", "c", "d", "e", "f"]},
        {"versions": [1], "searchableInputFields": ["a", "a"]},
        {"versions": [1], "searchableInputFields": ["not-a-name"]},
        {"versions": [1], "searchableInputFields": ["b"], "inputSchema": {"properties": {"a": {}}}},
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, settings):
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "workflow.json").write_text(json.dumps(settings))
    with pytest.raises((ValidationError, Exception)):
        Registry.load(tmp_path)


def test_searchable_fields_are_declared_input_fields_or_any_without_a_schema():
    declared = {"properties": {"a": {"type": "string"}}}
    assert Workflow.model_validate(
        {"name": "w", "versions": [1], "searchableInputFields": ["a"], "inputSchema": declared}
    ).searchable_input_fields == ("a",)
    assert Workflow.model_validate(
        {"name": "w", "versions": [1], "searchableInputFields": ["a", "b", "c", "d", "e"]}
    ).searchable_input_fields == ("a", "b", "c", "d", "e")


def test_a_folder_name_that_is_not_url_safe_is_refused(tmp_path: Path):
    (tmp_path / "Not Safe").mkdir()
    (tmp_path / "Not Safe" / "workflow.json").write_text('{"versions": [1]}')
    with pytest.raises(ValidationError):
        Registry.load(tmp_path)


@pytest.mark.parametrize(
    ("schema", "refusal"),
    [
        ({"required": ["document", "title"]}, "inputSchema requires ['title']"),
        (
            {"properties": {"text": {"type": "string"}}, "additionalProperties": False},
            "does not allow the content variable 'document'",
        ),
    ],
)
def test_a_content_variable_and_a_schema_that_would_refuse_every_start_are_refused(schema, refusal):
    with pytest.raises(ValidationError, match=re.escape(refusal)):
        Workflow.model_validate(
            {"name": "w", "versions": [1], "contentVariable": "document", "inputSchema": schema}
        )


def test_a_content_variable_with_a_schema_that_checks_it():
    schema = {"required": ["document"], "properties": {"document": {"type": "string", "pattern": "\\S"}}}
    workflow = Workflow.model_validate(
        {"name": "w", "versions": [1], "contentVariable": "document", "inputSchema": schema}
    )
    assert workflow.input_schema == schema
