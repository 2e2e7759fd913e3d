"""Every IAM statement in template.yaml names its resources, and lists no action its code does not use.

tests/test_iam.py proves the other direction: every call a function makes is allowed by its policy. The
checks themselves are in tests/template_checks.py, which tests/test_adding_a_workflow.py also runs on a
template with a workflow added.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from flowport.local.template import load_template

from tests.template_checks import (
    EXECUTIONS,
    STATE_MACHINE_ARN_PREFIX,
    STATE_MACHINE_TYPE,
    STATE_MACHINES,
    UNSCOPABLE,
    as_list,
    iam_statements,
    policy_template_faults,
    resource_text,
    state_machine_policy_faults,
    statement_faults,
    status_change_rule_faults,
)

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = load_template(ROOT / "template.yaml")
STATEMENTS = list(iam_statements(TEMPLATE))


def test_the_template_has_the_statements_these_tests_check():
    owners = {logical_id for logical_id, _ in STATEMENTS}
    assert {"StartFunction", "StatusFunction", "StateMachineLoggingPolicy"} <= owners


@pytest.mark.parametrize(
    ("owner", "statement"), STATEMENTS, ids=[f"{o}-{s.get('Sid')}" for o, s in STATEMENTS]
)
def test_no_wildcard_where_a_resource_can_be_named(owner: str, statement: dict[str, Any]):
    faults = statement_faults(TEMPLATE, owner, statement)
    assert not faults, "\n".join(faults)


def test_the_unscopable_allow_list_holds_only_what_the_template_uses():
    on_everything = {
        action
        for _, statement in STATEMENTS
        if "*" in [resource_text(r) for r in as_list(statement["Resource"])]
        for action in as_list(statement["Action"])
    }
    assert on_everything == set(UNSCOPABLE)


def test_policy_templates_are_scoped_to_a_resource_of_the_stack():
    faults = policy_template_faults(TEMPLATE)
    assert not faults, "\n".join(faults)


@pytest.mark.parametrize(
    "machine",
    [n for n, r in TEMPLATE["Resources"].items() if r["Type"] == STATE_MACHINE_TYPE],
)
def test_each_state_machine_is_allowed_exactly_what_its_definition_calls(machine: str):
    faults = state_machine_policy_faults(TEMPLATE, ROOT, machine)
    assert not faults, "\n".join(faults)


def test_the_sync_rule_and_the_functions_take_the_same_prefix():
    faults = status_change_rule_faults(TEMPLATE)
    assert not faults, "\n".join(faults)


# ------------------------------------------------------------------ what the checks refuse
# Each is a way to write the Step Functions resources that reaches more than the stack's own state machines
# (or is not the one form the checks know covers exactly those).

PARTITION_REGION_ACCOUNT = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
WIDER_THAN_THE_STACKS_STATE_MACHINES = [
    f"{PARTITION_REGION_ACCOUNT}:stateMachine:*",
    f"{PARTITION_REGION_ACCOUNT}:stateMachine:${{AWS::StackName}}*",  # also `flowportdev-...`
    f"{PARTITION_REGION_ACCOUNT}:*",
    "arn:${AWS::Partition}:states:*:${AWS::AccountId}:stateMachine:${AWS::StackName}-*",
    "arn:${AWS::Partition}:states:${AWS::Region}:*:stateMachine:${AWS::StackName}-*",
    "arn:aws:states:us-east-1:111122223333:stateMachine:${AWS::StackName}-*",
    "arn:*:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-*",
    "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:flowport-*",  # a fixed name
    "*",
]
WIDER_THAN_THE_STACKS_EXECUTIONS = [
    f"{PARTITION_REGION_ACCOUNT}:execution:*:*",
    f"{PARTITION_REGION_ACCOUNT}:execution:*",
    f"{PARTITION_REGION_ACCOUNT}:execution:${{AWS::StackName}}*:*",
    f"{PARTITION_REGION_ACCOUNT}:*:${{AWS::StackName}}-*:*",  # express executions, map runs, ...
    f"{PARTITION_REGION_ACCOUNT}:*",
    "arn:${AWS::Partition}:states:*:${AWS::AccountId}:execution:${AWS::StackName}-*:*",
    "arn:${AWS::Partition}:states:${AWS::Region}:*:execution:${AWS::StackName}-*:*",
    "arn:aws:states:us-east-1:111122223333:execution:${AWS::StackName}-*:*",
    "*",
]


def _statement(function: str, action: str) -> dict[str, Any]:
    (statement,) = [
        s
        for s in TEMPLATE["Resources"][function]["Properties"]["Policies"][0]["Statement"]
        if action in as_list(s["Action"])
    ]
    return copy.deepcopy(statement)


def test_the_statements_the_refusals_below_change_pass_as_written():
    for function, action in [
        ("StartFunction", "states:StartExecution"),
        ("StartFunction", "states:RedriveExecution"),
        ("CancelFunction", "states:StopExecution"),
    ]:
        assert statement_faults(TEMPLATE, function, _statement(function, action)) == []


@pytest.mark.parametrize("resource", WIDER_THAN_THE_STACKS_STATE_MACHINES)
def test_start_is_refused_on_more_than_the_stacks_state_machines(resource: str):
    statement = {**_statement("StartFunction", "states:StartExecution"), "Resource": {"Fn::Sub": resource}}
    assert statement_faults(TEMPLATE, "StartFunction", statement)
    as_text = {**statement, "Resource": resource}  # the same, not through Fn::Sub
    assert statement_faults(TEMPLATE, "StartFunction", as_text)


@pytest.mark.parametrize(
    ("function", "action"),
    [("CancelFunction", "states:StopExecution"), ("StartFunction", "states:RedriveExecution")],
)
@pytest.mark.parametrize("resource", WIDER_THAN_THE_STACKS_EXECUTIONS)
def test_execution_actions_are_refused_on_more_than_the_stacks_executions(
    resource: str, function: str, action: str
):
    statement = {**_statement(function, action), "Resource": {"Fn::Sub": resource}}
    assert statement_faults(TEMPLATE, function, statement)


def test_redrive_is_refused_on_state_machines():
    """RedriveExecution takes an execution: allowed on the state machines' ARNs it would allow nothing."""
    statement = {
        **_statement("StartFunction", "states:RedriveExecution"),
        "Resource": {"Fn::Sub": STATE_MACHINES},
    }
    assert statement_faults(TEMPLATE, "StartFunction", statement)


@pytest.mark.parametrize(
    "resources",
    [
        [{"Fn::Sub": STATE_MACHINES}, {"Fn::Sub": f"{PARTITION_REGION_ACCOUNT}:stateMachine:other-*"}],
        [{"Fn::Sub": [STATE_MACHINES, {"AWS::StackName": "other"}]}],  # the right text, another stack
        [{"Fn::Join": ["", [STATE_MACHINE_ARN_PREFIX, "*"]]}],
        [{"Fn::Sub": EXECUTIONS}],  # StartExecution takes a state machine, never an execution
    ],
    ids=["and-another", "sub-variables", "join", "executions"],
)
def test_start_is_refused_on_anything_but_exactly_the_scoped_form(resources: list[Any]):
    statement = {**_statement("StartFunction", "states:StartExecution"), "Resource": resources}
    assert statement_faults(TEMPLATE, "StartFunction", statement)


def test_execution_and_state_machine_actions_are_refused_in_one_statement():
    statement = {
        **_statement("StartFunction", "states:StartExecution"),
        "Action": ["states:StartExecution", "states:DescribeExecution"],
    }
    (fault,) = statement_faults(TEMPLATE, "StartFunction", statement)
    assert "take different resources" in fault


def test_an_unknown_step_functions_action_is_refused_until_its_resource_is_known():
    statement = {
        **_statement("StartFunction", "states:StartExecution"),
        "Action": "states:DeleteStateMachine",
    }
    (fault,) = statement_faults(TEMPLATE, "StartFunction", statement)
    assert "states:DeleteStateMachine" in fault


@pytest.mark.parametrize(
    "machines",
    [
        [
            {
                "prefix": {
                    "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:"
                }
            }
        ],
        [{"prefix": {"Fn::Sub": f"{PARTITION_REGION_ACCOUNT}:stateMachine:${{AWS::StackName}}"}}],
        [{"prefix": "arn:aws:states:us-east-1:123456789012:stateMachine:flowport-"}],
        [{"prefix": {"Fn::Sub": STATE_MACHINE_ARN_PREFIX}}, {"prefix": "arn:aws:states:"}],
        [{"Ref": "TicketTriageV1StateMachine"}],
    ],
    ids=["any-stack", "no-dash", "fixed-name", "and-another", "listed"],
)
def test_the_sync_rule_is_refused_on_more_or_other_than_the_stacks_state_machines(machines: list[Any]):
    template = copy.deepcopy(TEMPLATE)
    pattern = template["Resources"]["SyncFunction"]["Properties"]["Events"]["ExecutionStatusChange"]
    pattern["Properties"]["Pattern"]["detail"]["stateMachineArn"] = machines
    (fault,) = status_change_rule_faults(template)
    assert "SyncFunction.ExecutionStatusChange" in fault


def test_the_functions_prefix_is_refused_unless_it_is_the_one_iam_covers():
    template = copy.deepcopy(TEMPLATE)
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    variables["FLOWPORT_STATE_MACHINE_ARN_PREFIX"] = {"Fn::Sub": "${AWS::StackName}-"}
    (fault,) = status_change_rule_faults(template)
    assert "FLOWPORT_STATE_MACHINE_ARN_PREFIX" in fault
