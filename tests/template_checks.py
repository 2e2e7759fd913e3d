"""What template.yaml must hold for its workflows and its IAM, as checks of any copy of the repository's
layout (a folder with template.yaml and statemachines/), so that tests/test_adding_a_workflow.py can run
them on a template with a workflow added, as tests/test_template.py and tests/test_iam_template.py run them
on the repository's own.

Each check returns its faults, each a sentence that says what is wrong and what to add or change; no
faults is a pass.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flowport.core.registry import SETTINGS_FILE, Registry
from flowport.local.template import load_template

STATE_MACHINE_TYPE = "AWS::Serverless::StateMachine"
FUNCTION_TYPE = "AWS::Serverless::Function"

# Every state machine of the stack is `${AWS::StackName}-<workflow>-v<version>`: these cover all of them,
# and nothing of another account, region or stack (but see README on stack names that extend this one).
STATE_MACHINE_ARN_PREFIX = (
    "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-"
)
STATE_MACHINES = f"{STATE_MACHINE_ARN_PREFIX}*"
EXECUTIONS = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-*:*"
# The Step Functions actions the stack's code uses, by the resource each is authorised on.
STATE_MACHINE_ACTIONS = frozenset({"states:StartExecution"})
EXECUTION_ACTIONS = frozenset(
    {
        "states:DescribeExecution",
        "states:GetExecutionHistory",
        "states:StopExecution",
        "states:RedriveExecution",
    }
)
# Greedy, so a workflow whose own name ends in -v<n> is still read right.
STATE_MACHINE_NAME = re.compile(r"^\$\{AWS::StackName\}-(?P<workflow>.+)-v(?P<version>[1-9][0-9]*)$")

# What every state machine block repeats, since SAM's Globals cannot hold it (they take only PropagateTags).
TRACING = {"Enabled": True}
LOGGING = {
    "Level": "ERROR",
    # Executions' inputs and outputs are callers' data: never in the logs.
    "IncludeExecutionData": False,
    "Destinations": [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["StateMachineLogGroup", "Arn"]}}}
    ],
}
LOGGING_POLICY = {"Ref": "StateMachineLoggingPolicy"}

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
# The one other resource with a `*` that is still scoped to something the stack names: its table's indexes.
TABLE_INDEXES = re.compile(r"^\$\{(\w+)\.Arn\}/index/\*$")
# SAM policy templates allowed, each scoped by the resource its parameter names.
POLICY_TEMPLATES = {"LambdaInvokePolicy": "FunctionName"}
# Task states' service integrations and the action each needs.
INTEGRATION_ACTIONS = {
    "arn:aws:states:::dynamodb:updateItem": "dynamodb:UpdateItem",
    "arn:aws:states:::dynamodb:putItem": "dynamodb:PutItem",
    "arn:aws:states:::dynamodb:getItem": "dynamodb:GetItem",
}
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> Properties of each resource of this type."""
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def logical_id_for(workflow: str, version: int) -> str:
    """A workflow version's state machine's logical id: ticket-triage v2 is TicketTriageV2StateMachine."""
    return "".join(part.capitalize() for part in workflow.split("-")) + f"V{version}StateMachine"


def state_machine_block(workflow: str, version: int) -> str:
    """The block of template.yaml that deploys a workflow version, as a fault message tells to add it."""
    return f"""\
  {logical_id_for(workflow, version)}:
    Type: {STATE_MACHINE_TYPE}
    Properties:
      Name: !Sub "${{AWS::StackName}}-{workflow}-v{version}"
      DefinitionUri: statemachines/{workflow}/v{version}.asl.json
      Tracing: {{Enabled: true}}
      Logging:
        Level: ERROR
        IncludeExecutionData: false
        Destinations: [{{CloudWatchLogsLogGroup: {{LogGroupArn: !GetAtt StateMachineLogGroup.Arn}}}}]
      Policies: [!Ref StateMachineLoggingPolicy]
"""


# ---------------------------------------------------------------------------------------- workflows


def workflow_faults(template: dict[str, Any], root: Path) -> list[str]:
    """Each workflow version under root/statemachines/ is one state machine of the template, and each state
    machine is a version its folder lists and defines."""
    statemachines = root / "statemachines"
    registry = Registry.load(statemachines)
    faults = [
        f"statemachines/{folder.name}/ has no {SETTINGS_FILE}: add one with the workflow's settings and its "
        f'"versions", or remove the folder'
        for folder in sorted(statemachines.iterdir())
        if folder.is_dir() and not (folder / SETTINGS_FILE).is_file()
    ]
    deployed: dict[tuple[str, int], str] = {}
    for logical_id, properties in resources_of_type(template, STATE_MACHINE_TYPE).items():
        name = properties.get("Name")
        match = STATE_MACHINE_NAME.match(name.get("Fn::Sub", "") if isinstance(name, dict) else "")
        if match is None:
            faults.append(
                f'{logical_id}: its Name must be !Sub "${{AWS::StackName}}-<workflow>-v<version>", '
                f"not {name!r}: the functions derive each version's ARN from that, and IAM covers only that"
            )
            continue
        workflow, version = match["workflow"], int(match["version"])
        definition = f"statemachines/{workflow}/v{version}.asl.json"
        if (workflow, version) in deployed:
            faults.append(
                f"{logical_id} and {deployed[workflow, version]} are both {workflow} v{version}: remove one"
            )
            continue
        deployed[workflow, version] = logical_id
        if workflow not in registry:
            faults.append(
                f"{logical_id} is version {version} of workflow '{workflow}', which has no folder: add "
                f'statemachines/{workflow}/{SETTINGS_FILE} (with {version} in its "versions") and '
                f"{definition}, or remove {logical_id}"
            )
        elif version not in registry[workflow].versions:
            faults.append(
                f"{logical_id} is version {version} of '{workflow}', which "
                f"statemachines/{workflow}/{SETTINGS_FILE} does not list: add {version} to its "
                f'"versions" {list(registry[workflow].versions)}, or remove {logical_id}'
            )
        if properties.get("DefinitionUri") != definition:
            faults.append(
                f"{logical_id}: DefinitionUri must be {definition}, the definition of {workflow} v{version}, "
                f"not {properties.get('DefinitionUri')!r}"
            )
    for name, workflow in registry.items():
        for version in workflow.versions:
            definition = f"statemachines/{name}/{workflow.definition_file(version)}"
            if not (root / definition).is_file():
                faults.append(
                    f"statemachines/{name}/{SETTINGS_FILE} lists version {version}, which has no definition: "
                    f'add {definition}, or remove {version} from "versions"'
                )
            if (name, version) not in deployed:
                faults.append(
                    f"statemachines/{name}/{SETTINGS_FILE} lists version {version}, which template.yaml "
                    "does not deploy: add this block to its Resources (after the other state machines)\n\n"
                    f"{state_machine_block(name, version)}"
                )
    return faults


def state_machine_setting_faults(template: dict[str, Any]) -> list[str]:
    """Every state machine traces, logs errors without execution data, and is STANDARD (the API reads
    execution history, and the sync function needs the status-change events; Express has neither)."""
    faults = []
    for logical_id, properties in resources_of_type(template, STATE_MACHINE_TYPE).items():
        if properties.get("Type", "STANDARD") != "STANDARD":
            faults.append(
                f"{logical_id}: Type must be STANDARD (the default): flowport reads execution history"
            )
        if properties.get("Tracing") != TRACING:
            faults.append(f"{logical_id}: add `Tracing: {{Enabled: true}}`, as every state machine has")
        if properties.get("Logging") != LOGGING:
            faults.append(
                f"{logical_id}: its Logging must be the other state machines' (Level ERROR, "
                "IncludeExecutionData false, to StateMachineLogGroup)"
            )
        if LOGGING_POLICY not in properties.get("Policies", []):
            faults.append(
                f"{logical_id}: add `!Ref StateMachineLoggingPolicy` to its Policies: without it, "
                "creating a state machine that logs fails"
            )
    return faults


def _named_resources(value: Any) -> Iterator[str]:
    """The logical ids a template value refers to (Ref, GetAtt, ${...} in Sub, DependsOn)."""
    if isinstance(value, list):
        for item in value:
            yield from _named_resources(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                yield item
            elif key == "Fn::GetAtt":
                yield (item[0] if isinstance(item, list) else str(item).split(".", 1)[0])
            elif key == "Fn::Sub":
                text, variables = (item, {}) if isinstance(item, str) else (item[0], item[1])
                yield from (name.split(".", 1)[0] for name in re.findall(r"\$\{([^}!]+)\}", text))
                yield from _named_resources(variables)
            else:
                yield from _named_resources(item)


def state_machine_reference_faults(template: dict[str, Any]) -> list[str]:
    """Nothing but a state machine's own block names it, so that adding one is adding its block."""
    machines = set(resources_of_type(template, STATE_MACHINE_TYPE))
    places: dict[str, Any] = {
        **{
            f"Resources.{logical_id}": resource
            for logical_id, resource in template["Resources"].items()
            if logical_id not in machines
        },
        **{f"Outputs.{name}": output for name, output in template.get("Outputs", {}).items()},
        "Globals": template.get("Globals", {}),
        "Conditions": template.get("Conditions", {}),
    }
    faults = []
    for place, value in places.items():
        named = set(_named_resources(value))
        named |= set(as_list(value.get("DependsOn", []))) if isinstance(value, dict) else set()
        if named & machines:
            faults.append(
                f"{place} names state machines {sorted(named & machines)}: refer to the stack's state "
                f'machines by their prefix instead (!Sub "{STATE_MACHINES}", executions '
                f'!Sub "{EXECUTIONS}"), so that adding a workflow stays one block'
            )
    return faults


# ---------------------------------------------------------------------------------------- IAM


def iam_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(resource logical id, statement) for each inline IAM statement in the template."""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] in (FUNCTION_TYPE, STATE_MACHINE_TYPE):
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


def resource_text(resource: Any) -> str | None:
    """A resource's ARN text as written (`Fn::Sub` text, or a plain string); None for Ref and GetAtt."""
    if isinstance(resource, str):
        return resource
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return sub if isinstance(sub, str) else str(sub[0])
    return None


def statement_faults(template: dict[str, Any], owner: str, statement: dict[str, Any]) -> list[str]:
    """An Allow of named actions on named resources: `*` only for actions that take no resource, and
    otherwise only as the table's indexes or the stack's own state machines and executions."""
    where = f"{owner} {statement.get('Sid', '(no Sid)')}"
    faults = []
    if statement.get("Effect") != "Allow":
        faults.append(f"{where}: only Allow statements are expected")
    faults += [f"{where}: {key} is not expected" for key in ("NotAction", "NotResource") if key in statement]
    actions = as_list(statement.get("Action", []))
    faults += [f"{where}: {action} allows more than one action" for action in actions if "*" in action]
    resources = as_list(statement.get("Resource", []))
    states_actions = {action for action in actions if action.startswith("states:")}
    if states_actions:
        return faults + _states_statement_faults(where, states_actions, set(actions), resources)
    for resource in resources:
        text = resource_text(resource)
        if text == "*":
            unscoped = [action for action in actions if action not in UNSCOPABLE]
            if unscoped:
                faults.append(f"{where}: Resource '*' for {unscoped}, which can name their resources")
        elif text is not None and "*" in text:
            index = TABLE_INDEXES.match(text)
            table = template["Resources"].get(index[1], {}) if index else {}
            if table.get("Type") != "AWS::DynamoDB::Table":
                faults.append(f"{where}: {text} is not scoped to a resource of the stack")
    return faults


def _states_statement_faults(
    where: str, states_actions: set[str], actions: set[str], resources: list[Any]
) -> list[str]:
    """Step Functions actions only on exactly the stack's state machines, or exactly their executions."""
    if states_actions <= STATE_MACHINE_ACTIONS and actions == states_actions:
        expected = STATE_MACHINES
    elif states_actions <= EXECUTION_ACTIONS and actions == states_actions:
        expected = EXECUTIONS
    else:
        unknown = states_actions - STATE_MACHINE_ACTIONS - EXECUTION_ACTIONS
        if unknown:
            return [
                f"{where}: {sorted(unknown)} are not known here: "
                "add the resource they take to tests/template_checks.py"
            ]
        return [
            f"{where}: {sorted(actions)} take different resources: give state machine actions "
            f"({sorted(STATE_MACHINE_ACTIONS)}), execution actions ({sorted(EXECUTION_ACTIONS)}) and "
            "any others a statement each"
        ]
    if resources != [{"Fn::Sub": expected}]:
        return [
            f'{where}: Resource must be exactly !Sub "{expected}" (the stack\'s own '
            f"{'state machines' if expected == STATE_MACHINES else 'executions'}), not {resources}"
        ]
    return []


def wildcard_faults(template: dict[str, Any]) -> list[str]:
    return [
        fault
        for owner, statement in iam_statements(template)
        for fault in statement_faults(template, owner, statement)
    ]


def status_change_rule_faults(template: dict[str, Any]) -> list[str]:
    """The functions learn each state machine's ARN from the same prefix that the sync rule matches."""
    faults = []
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    if variables.get("FLOWPORT_STATE_MACHINE_ARN_PREFIX") != {"Fn::Sub": STATE_MACHINE_ARN_PREFIX}:
        faults.append(
            "Globals: FLOWPORT_STATE_MACHINE_ARN_PREFIX must be "
            f'!Sub "{STATE_MACHINE_ARN_PREFIX}", the prefix IAM and the sync rule cover'
        )
    rules = [
        (f"{logical_id}.{name}", event["Properties"]["Pattern"])
        for logical_id, properties in resources_of_type(template, FUNCTION_TYPE).items()
        for name, event in properties.get("Events", {}).items()
        if event.get("Type") == "EventBridgeRule"
        and "aws.states" in event["Properties"]["Pattern"].get("source", [])
    ]
    if not rules:
        faults.append("No function has an EventBridgeRule for source aws.states: the sync function needs one")
    expected = [{"prefix": {"Fn::Sub": STATE_MACHINE_ARN_PREFIX}}]
    for rule, pattern in rules:
        machines = pattern.get("detail", {}).get("stateMachineArn")
        if machines != expected:
            faults.append(
                f'{rule}: detail.stateMachineArn must be exactly [prefix: !Sub "{STATE_MACHINE_ARN_PREFIX}"] '
                f"(the stack's own state machines), not {machines}"
            )
    return faults


def policy_template_faults(template: dict[str, Any]) -> list[str]:
    faults = []
    for logical_id, resource in template["Resources"].items():
        for policy in resource.get("Properties", {}).get("Policies", []):
            if isinstance(policy, dict) and "Statement" in policy:
                continue
            if not isinstance(policy, dict):
                faults.append(f"{logical_id}: managed policy {policy} by name")
            elif set(policy) == {"Ref"}:
                if template["Resources"].get(policy["Ref"], {}).get("Type") != "AWS::IAM::ManagedPolicy":
                    faults.append(f"{logical_id}: {policy} is not a managed policy of the stack")
            else:
                ((name, parameters),) = policy.items()
                named = (
                    parameters.get(POLICY_TEMPLATES.get(name, ""), {}) if isinstance(parameters, dict) else {}
                )
                if name not in POLICY_TEMPLATES:
                    faults.append(
                        f"{logical_id}: policy template {name} is not one of {sorted(POLICY_TEMPLATES)}"
                    )
                elif set(named) != {"Ref"} or named["Ref"] not in template["Resources"]:
                    faults.append(
                        f"{logical_id}: {name} must name a resource of the stack by Ref, not {named}"
                    )
    return faults


def _task_resources(states: dict[str, Any]) -> Iterator[str]:
    for state in states.values():
        if state.get("Type") == "Task":
            yield state["Resource"]
        for branch in state.get("Branches", []):
            yield from _task_resources(branch["States"])
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                yield from _task_resources(state[key]["States"])


def state_machine_policy_faults(template: dict[str, Any], root: Path, machine: str) -> list[str]:
    """A state machine is allowed exactly what its definition calls: its integrations' actions and the
    functions its Lambda steps invoke."""
    properties = template["Resources"][machine]["Properties"]
    definition_file = root / str(properties.get("DefinitionUri"))
    if not definition_file.is_file():
        return []  # workflow_faults says what is missing
    definition = json.loads(definition_file.read_text(encoding="utf-8"))
    tasks = set(_task_resources(definition["States"]))
    unknown = tasks - set(INTEGRATION_ACTIONS) - {LAMBDA_INVOKE}
    if unknown:
        return [
            f"{machine}: add the actions these integrations need to tests/template_checks.py: "
            f"{sorted(unknown)}"
        ]
    needed = {INTEGRATION_ACTIONS[task] for task in tasks if task in INTEGRATION_ACTIONS}
    policies = properties.get("Policies", [])
    listed = {
        action
        for policy in policies
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
        for action in as_list(statement["Action"])
    }
    faults = []
    if listed != needed:
        faults.append(f"{machine}: its policy allows {sorted(listed)}, its definition calls {sorted(needed)}")
    invoked = {
        policy["LambdaInvokePolicy"]["FunctionName"]["Ref"]
        for policy in policies
        if isinstance(policy, dict) and "LambdaInvokePolicy" in policy
    }
    substituted = {
        value["Fn::GetAtt"][0] if "Fn::GetAtt" in value else value.get("Ref")
        for value in properties.get("DefinitionSubstitutions", {}).values()
        if isinstance(value, dict)
    }
    called = substituted & set(resources_of_type(template, FUNCTION_TYPE))
    if invoked != called:
        faults.append(
            f"{machine}: it may invoke {sorted(invoked)}, its definition calls {sorted(called)}: give each "
            "function it calls a LambdaInvokePolicy"
        )
    return faults


def template_faults(root: Path) -> list[str]:
    """Every check above, on root/template.yaml."""
    template = load_template(root / "template.yaml")
    return [
        *workflow_faults(template, root),
        *state_machine_setting_faults(template),
        *state_machine_reference_faults(template),
        *wildcard_faults(template),
        *status_change_rule_faults(template),
        *policy_template_faults(template),
        *(
            fault
            for machine in resources_of_type(template, STATE_MACHINE_TYPE)
            for fault in state_machine_policy_faults(template, root, machine)
        ),
    ]
