"""Every IAM statement in template.yaml names its resources, and lists no action its code does not use.

tests/test_iam.py proves the other direction: every call a function makes is allowed by its policy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowport.local.template import load_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = load_template(ROOT / "template.yaml")

# Actions that take no resource-level permission in IAM, so only `Resource: "*"` can allow them; each with
# the reason it is there. Anything else with `Resource: "*"` fails.
UNSCOPABLE = {
    # Step Functions logging to CloudWatch Logs (StateMachineLoggingPolicy): the log delivery APIs have no
    # resource types; AWS documents these exact actions on "*" for a state machine's role.
    "logs:CreateLogDelivery": "log delivery for Step Functions logging; no resource types",
    "logs:GetLogDelivery": "log delivery for Step Functions logging; no resource types",
    "logs:UpdateLogDelivery": "log delivery for Step Functions logging; no resource types",
    "logs:DeleteLogDelivery": "log delivery for Step Functions logging; no resource types",
    "logs:ListLogDeliveries": "log delivery for Step Functions logging; no resource types",
    "logs:PutResourcePolicy": "Step Functions logging sets the log group resource policy; account-wide",
    "logs:DescribeResourcePolicies": "Step Functions logging reads the resource policies; account-wide",
    "logs:DescribeLogGroups": "Step Functions logging checks the destination; a List action, no resource",
}

# Resources with a `*` that are still scoped to something the stack names: the executions of one named
# state machine, the indexes of one named table.
SCOPED_WILDCARDS = {
    re.compile(r":execution:\$\{(\w+)\.Name\}:\*$"): "AWS::Serverless::StateMachine",
    re.compile(r"^\$\{(\w+)\.Arn\}/index/\*$"): "AWS::DynamoDB::Table",
}

# SAM policy templates allowed, each scoped by the resource its parameter names.
POLICY_TEMPLATES = {"LambdaInvokePolicy": "FunctionName"}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements() -> Iterator[tuple[str, dict[str, Any]]]:
    """(resource logical id, statement) for each inline IAM statement in the template."""
    for logical_id, resource in TEMPLATE["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            for policy in properties.get("Policies", []):
                if isinstance(policy, dict) and "Statement" in policy:
                    for statement in policy["Statement"]:
                        yield logical_id, statement
        elif resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            for statement in properties["PolicyDocument"]["Statement"]:
                yield logical_id, statement
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield logical_id, statement


def _resource_text(resource: Any) -> str | None:
    """A resource's ARN text as written (`Fn::Sub` text, or a plain string); None for Ref and GetAtt."""
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return sub if isinstance(sub, str) else str(sub[0])
    return None


STATEMENTS = list(statements())


def test_the_template_has_the_statements_these_tests_check():
    owners = {logical_id for logical_id, _ in STATEMENTS}
    assert {"StartFunction", "StatusFunction", "StateMachineLoggingPolicy"} <= owners


@pytest.mark.parametrize(
    ("owner", "statement"), STATEMENTS, ids=[f"{o}-{s.get('Sid')}" for o, s in STATEMENTS]
)
def test_no_wildcard_where_a_resource_can_be_named(owner: str, statement: dict[str, Any]):
    assert statement["Effect"] == "Allow", "Deny statements are not expected here"
    assert "NotAction" not in statement
    assert "NotResource" not in statement
    actions = _as_list(statement["Action"])
    for action in actions:
        assert "*" not in action, f"{owner}: {action} allows more than one action"
    for resource in _as_list(statement["Resource"]):
        text = _resource_text(resource)
        if text == "*":
            unscoped = [action for action in actions if action not in UNSCOPABLE]
            assert not unscoped, f"{owner}: Resource '*' for {unscoped}, which can name their resources"
        elif text is not None and "*" in text:
            scopes = [
                (match.group(1), kind)
                for pattern, kind in SCOPED_WILDCARDS.items()
                if (match := pattern.search(text))
            ]
            assert scopes, f"{owner}: {text} is not scoped"
            ((named, kind),) = scopes
            assert TEMPLATE["Resources"][named]["Type"] == kind, f"{owner}: {text} names no {kind}"


def test_the_unscopable_allow_list_holds_only_what_the_template_uses():
    on_everything = {
        action
        for _, statement in STATEMENTS
        if "*" in [_resource_text(r) for r in _as_list(statement["Resource"])]
        for action in _as_list(statement["Action"])
    }
    assert on_everything == set(UNSCOPABLE)


def test_policy_templates_are_scoped_to_a_resource_of_the_stack():
    for logical_id, resource in TEMPLATE["Resources"].items():
        for policy in resource.get("Properties", {}).get("Policies", []):
            if isinstance(policy, dict) and "Statement" in policy:
                continue
            assert isinstance(policy, dict), f"{logical_id}: managed policy {policy} by name"
            if set(policy) == {"Ref"}:
                assert TEMPLATE["Resources"][policy["Ref"]]["Type"] == "AWS::IAM::ManagedPolicy"
                continue
            ((name, parameters),) = policy.items()
            assert name in POLICY_TEMPLATES, f"{logical_id}: policy template {name}"
            named = parameters[POLICY_TEMPLATES[name]]
            assert set(named) == {"Ref"}, (logical_id, named)
            assert named["Ref"] in TEMPLATE["Resources"], (logical_id, named)


# Task states' service integrations and the action each needs.
INTEGRATION_ACTIONS = {
    "arn:aws:states:::dynamodb:updateItem": "dynamodb:UpdateItem",
    "arn:aws:states:::dynamodb:putItem": "dynamodb:PutItem",
    "arn:aws:states:::dynamodb:getItem": "dynamodb:GetItem",
}


def _task_resources(states: dict[str, Any]) -> Iterator[str]:
    for state in states.values():
        if state.get("Type") == "Task":
            yield state["Resource"]
        for branch in state.get("Branches", []):
            yield from _task_resources(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _task_resources(state[key]["States"])


@pytest.mark.parametrize(
    "machine",
    [n for n, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::StateMachine"],
)
def test_each_state_machine_is_allowed_exactly_what_its_definition_calls(machine: str):
    properties = TEMPLATE["Resources"][machine]["Properties"]
    definition = json.loads((ROOT / properties["DefinitionUri"]).read_text())
    tasks = set(_task_resources(definition["States"]))
    needed = {INTEGRATION_ACTIONS[task] for task in tasks if task in INTEGRATION_ACTIONS}
    unknown = tasks - set(INTEGRATION_ACTIONS) - {"arn:aws:states:::lambda:invoke"}
    assert not unknown, f"{machine}: add the action these integrations need: {unknown}"
    policies = properties.get("Policies", [])
    listed = {
        action
        for policy in policies
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
        for action in _as_list(statement["Action"])
    }
    assert listed == needed
    invoked = {
        policy["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for policy in policies
        if "LambdaInvokePolicy" in policy
    }
    substituted = {
        value["Fn::GetAtt"][0] if "Fn::GetAtt" in value else value.get("Ref")
        for value in properties.get("DefinitionSubstitutions", {}).values()
        if isinstance(value, dict)
    }
    functions = {n for n, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert invoked == substituted & functions
