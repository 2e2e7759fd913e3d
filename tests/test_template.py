"""template.yaml, the workflow registry and the routes agree; policies name what they use."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from flowport.api.methods import methods_by_path
from flowport.api.security import security_schemes
from flowport.aws import queue
from flowport.aws.deliveries import SECRETS_LEADING_KEY
from flowport.aws.live_views import VIEW_PREFIX
from flowport.aws.principals import LEADING_KEYS
from flowport.core.index import LISTED_ATTRIBUTES, SORT_KEY, Index
from flowport.core.registry import Registry
from flowport.local.functions import load_module
from flowport.local.template import LOCAL_STACK, Stack, load_template

from tests.template_checks import (
    EXECUTION_ACTIONS,
    EXECUTIONS,
    STATE_MACHINE_ACTIONS,
    STATE_MACHINES,
    as_list,
    state_machine_block,
    state_machine_reference_faults,
    state_machine_setting_faults,
    status_change_rule_faults,
    workflow_faults,
)

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = Registry.load(ROOT / "statemachines")
API_FUNCTIONS = ("StartFunction", "StatusFunction", "StreamFunction", "CancelFunction")


def test_each_workflow_version_is_one_state_machine_and_each_state_machine_a_listed_version():
    faults = workflow_faults(load_template(ROOT / "template.yaml"), ROOT)
    assert not faults, "\n\n".join(faults)


def test_the_local_stack_deploys_each_version_from_its_definition(stack: Stack):
    expected = {
        f"{LOCAL_STACK}-{workflow.state_machine_name(version)}": ROOT
        / "statemachines"
        / name
        / workflow.definition_file(version)
        for name, workflow in REGISTRY.items()
        for version in workflow.versions
    }
    deployed = {machine.name: machine.definition_uri for machine in stack.state_machines.values()}
    assert deployed == expected


def test_every_state_machine_traces_and_logs_as_the_others_do():
    faults = state_machine_setting_faults(load_template(ROOT / "template.yaml"))
    assert not faults, "\n".join(faults)


def test_nothing_but_its_own_block_names_a_state_machine():
    """So adding a workflow, or a version, is adding its block: no list, rule or output to extend."""
    faults = state_machine_reference_faults(load_template(ROOT / "template.yaml"))
    assert not faults, "\n".join(faults)


def test_each_function_serves_exactly_its_template_routes(stack: Stack):
    for spec in stack.functions.values():
        if not spec.routes:
            continue
        module = load_module(spec)
        served = {
            (method.upper(), path)
            for path, item in module.app.get_openapi_schema(security_schemes=security_schemes()).paths.items()
            for method in item.model_dump(exclude_none=True)
        }
        routed = {(route.method, route.path) for route in spec.routes if route.method != "ANY"}
        assert served == routed, spec.logical_id


def test_every_path_sends_the_methods_it_lacks_to_one_function_that_answers_405(stack: Stack):
    """API Gateway answers a method a path has no route for itself (MISSING_AUTHENTICATION_TOKEN, no
    Allow) unless the path has ANY: each path has one, and the 405 it answers names the path's methods."""
    explicit: dict[str, set[str]] = {}
    any_functions: dict[str, str] = {}
    for route, function in stack.routes.items():
        if route.method == "ANY":
            any_functions[route.path] = function.logical_id
        else:
            explicit.setdefault(route.path, set()).add(route.method)
    # Conductor's /api has one more: a greedy path, for every endpoint of Conductor's that flowport lacks
    # (a 501 naming the alternative), which is reached only where no other path matches.
    assert any_functions.pop(CONDUCTOR_CATCH_ALL) == "ConductorFunction"
    assert set(any_functions) == set(explicit)
    # Read-only, it only answers 405 there; but for the admin paths, answered by the function that serves
    # them (only admins reach them at all: flowport.core.policy), for Conductor's, whose 405 is in
    # Conductor's error document, and for the console's, whose function serves nothing else.
    for path, function in any_functions.items():
        assert function == _answers_405(path), path
    assert {path: set(methods) for path, methods in methods_by_path().items()} == explicit


CONDUCTOR_CATCH_ALL = "/api/{proxy+}"


def _answers_405(path: str) -> str:
    if path.startswith("/admin/"):
        return "AdminFunction"
    if path.startswith("/console"):
        return "ConsoleFunction"
    return "ConductorFunction" if path.startswith("/api/") else "StatusFunction"


def _states_resources(function: str, actions: frozenset[str]) -> list[Any]:
    """The resources of the function's statements that allow any of these Step Functions actions."""
    template = load_template(ROOT / "template.yaml")
    return [
        statement["Resource"]
        for statement in template["Resources"][function]["Properties"]["Policies"][0]["Statement"]
        if set(as_list(statement["Action"])) & actions
    ]


def test_start_may_start_exactly_the_stacks_state_machines():
    assert _states_resources("StartFunction", STATE_MACHINE_ACTIONS) == [{"Fn::Sub": STATE_MACHINES}]


@pytest.mark.parametrize("function", [*API_FUNCTIONS, "SyncFunction"])
def test_each_function_observes_exactly_the_stacks_executions(function: str):
    assert _states_resources(function, EXECUTION_ACTIONS) == [{"Fn::Sub": EXECUTIONS}]


def test_the_sync_function_hears_of_exactly_the_stacks_state_machines():
    faults = status_change_rule_faults(load_template(ROOT / "template.yaml"))
    assert not faults, "\n".join(faults)


READS = {
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "states:DescribeExecution",
    "states:GetExecutionHistory",
}
ONLY_LIVE_VIEWS = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{VIEW_PREFIX}*"]}}


@pytest.mark.parametrize("function", ["StatusFunction", "StreamFunction"])
def test_the_reading_functions_only_read_but_for_live_views(function: str):
    """Records and keys are out of their reach: the only write allowed is of LIVE# items."""
    template = load_template(ROOT / "template.yaml")
    statements = template["Resources"][function]["Properties"]["Policies"][0]["Statement"]
    for statement in statements:
        action = statement["Action"]
        actions = {action} if isinstance(action, str) else set(action)
        if actions <= READS:
            continue
        assert actions <= {"dynamodb:PutItem", "dynamodb:UpdateItem"}, (function, actions)
        assert statement.get("Condition") == ONLY_LIVE_VIEWS, (function, statement)


def test_only_the_admin_function_writes_credentials_and_only_them():
    """Its role reaches exactly the items flowport.aws.principals writes (their leading keys), and the
    webhook secrets (flowport.aws.deliveries): no execution record, idempotency key or live view."""
    admin_keys = (*LEADING_KEYS, SECRETS_LEADING_KEY)
    template = load_template(ROOT / "template.yaml")
    (statement,) = template["Resources"]["AdminFunction"]["Properties"]["Policies"][0]["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["ExecutionsTable", "Arn"]}
    assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(admin_keys)}}
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
    for name, resource in template["Resources"].items():
        for policy in resource.get("Properties", {}).get("Policies", []):
            for other in policy.get("Statement", []) if isinstance(policy, dict) else []:
                condition = json.dumps(other.get("Condition", {}))
                if name != "AdminFunction" and set(as_list(other["Action"])) & writes:
                    assert not any(key.rstrip("*") in condition for key in admin_keys), (name, other)


def test_a_stream_response_ends_before_its_function_and_api_gateway_time_out():
    from flowport.api.routes.events import LAST_LOOK_SECONDS
    from flowport.settings import Settings

    timeout = load_template(ROOT / "template.yaml")["Resources"]["StreamFunction"]["Properties"]["Timeout"]
    longest_wait = Settings.model_fields["stream_max_seconds"].default
    # API Gateway's REST integrations time out at 29 s.
    assert longest_wait + LAST_LOOK_SECONDS <= timeout < 29


def test_the_search_indexes_are_the_ones_the_code_queries_and_project_a_summary():
    table = load_template(ROOT / "template.yaml")["Resources"]["ExecutionsTable"]["Properties"]
    declared_indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    assert set(declared_indexes) == {index.value for index in Index} | {queue.QUEUE_INDEX}
    defined = {attribute["AttributeName"] for attribute in table["AttributeDefinitions"]}
    for index in Index:
        declared = declared_indexes[index.value]
        keys = [key["AttributeName"] for key in declared["KeySchema"]]
        assert keys == [index.partition_key, SORT_KEY]
        assert {index.partition_key, SORT_KEY} <= defined
        if index is Index.BY_INPUT_FIELD:
            assert declared["Projection"] == {"ProjectionType": "KEYS_ONLY"}  # its records are read after
        else:
            projected = {index.partition_key, *declared["Projection"]["NonKeyAttributes"]}
            assert projected == set(LISTED_ATTRIBUTES) | {index.partition_key}, index


def test_the_queue_index_is_the_one_the_code_queries_and_holds_keys_only():
    table = load_template(ROOT / "template.yaml")["Resources"]["ExecutionsTable"]["Properties"]
    (declared,) = [
        index for index in table["GlobalSecondaryIndexes"] if index["IndexName"] == queue.QUEUE_INDEX
    ]
    assert [key["AttributeName"] for key in declared["KeySchema"]] == [queue.PARTITION_KEY, queue.SORT_KEY]
    # The sort key says all a dispatch needs (flowport.core.admission.queue_order): nothing more is copied.
    assert declared["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_the_status_function_queries_only_the_indexes():
    template = load_template(ROOT / "template.yaml")
    statements = template["Resources"]["StatusFunction"]["Properties"]["Policies"][0]["Statement"]
    (query,) = [s for s in statements if "dynamodb:Query" in s["Action"]]
    assert query["Action"] == "dynamodb:Query"
    assert query["Resource"] == {"Fn::Sub": "${ExecutionsTable.Arn}/index/*"}


def test_every_checkov_skip_says_why():
    """`make checkov` fails on any finding not skipped; a skip must carry its reason."""
    for name, resource in load_template(ROOT / "template.yaml")["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert set(skip) == {"id", "comment"}, (name, skip)
            assert skip["id"].startswith("CKV_"), (name, skip)
            assert len(skip["comment"].split()) >= 5, (name, skip)


# ------------------------------------------------------------------ what is missing, and what to add
# Each test breaks a copy of statemachines/ (or the template, in memory) the way a change can, and expects
# exactly the fault that names what is missing.


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """A copy of the repository's workflow folders; the template is read from the repository."""
    shutil.copytree(ROOT / "statemachines", tmp_path / "statemachines")
    return tmp_path


def _faults(layout: Path, template: dict[str, Any] | None = None) -> list[str]:
    return workflow_faults(template or load_template(ROOT / "template.yaml"), layout)


def _set_versions(layout: Path, workflow: str, versions: list[int]) -> None:
    settings_file = layout / "statemachines" / workflow / "workflow.json"
    settings = json.loads(settings_file.read_text())
    settings_file.write_text(json.dumps({**settings, "versions": versions}))


def test_the_copy_of_the_folders_has_no_fault(layout: Path):
    assert _faults(layout) == []


def test_a_workflow_folder_without_a_state_machine_is_named_with_the_block_to_add(layout: Path):
    shutil.copytree(layout / "statemachines" / "nightly-report", layout / "statemachines" / "weekly-report")
    (fault,) = _faults(layout)
    assert fault == (
        "statemachines/weekly-report/workflow.json lists version 1, which template.yaml does not deploy: add "
        "this block to its Resources (after the other state machines)\n\n"
        + state_machine_block("weekly-report", 1)
    )
    assert "  WeeklyReportV1StateMachine:\n" in fault
    assert 'Name: !Sub "${AWS::StackName}-weekly-report-v1"' in fault


def test_a_new_version_without_a_state_machine_is_named_with_the_block_to_add(layout: Path):
    shutil.copy(
        layout / "statemachines/ticket-triage/v2.asl.json", layout / "statemachines/ticket-triage/v3.asl.json"
    )
    _set_versions(layout, "ticket-triage", [1, 2, 3])
    (fault,) = _faults(layout)
    assert fault.startswith(
        "statemachines/ticket-triage/workflow.json lists version 3, which template.yaml does not"
    )
    assert fault.endswith(state_machine_block("ticket-triage", 3))


def test_a_state_machine_without_a_folder_is_named(layout: Path):
    shutil.rmtree(layout / "statemachines" / "nightly-report")
    assert _faults(layout) == [
        "NightlyReportV1StateMachine is version 1 of workflow 'nightly-report', which has no folder: add "
        'statemachines/nightly-report/workflow.json (with 1 in its "versions") and '
        "statemachines/nightly-report/v1.asl.json, or remove NightlyReportV1StateMachine"
    ]


def test_a_state_machine_of_a_version_its_folder_does_not_list_is_named(layout: Path):
    _set_versions(layout, "ticket-triage", [1])
    assert _faults(layout) == [
        "TicketTriageV2StateMachine is version 2 of 'ticket-triage', which "
        'statemachines/ticket-triage/workflow.json does not list: add 2 to its "versions" [1], '
        "or remove TicketTriageV2StateMachine"
    ]


def test_a_listed_version_without_a_definition_is_named(layout: Path):
    (layout / "statemachines/ticket-triage/v2.asl.json").unlink()
    assert _faults(layout) == [
        "statemachines/ticket-triage/workflow.json lists version 2, which has no definition: add "
        'statemachines/ticket-triage/v2.asl.json, or remove 2 from "versions"'
    ]


def test_a_folder_without_settings_is_named(layout: Path):
    (layout / "statemachines" / "draft").mkdir()
    shutil.copy(
        layout / "statemachines/ticket-triage/v1.asl.json", layout / "statemachines/draft/v1.asl.json"
    )
    assert _faults(layout) == [
        "statemachines/draft/ has no workflow.json: add one with the workflow's settings and its "
        '"versions", or remove the folder'
    ]


def test_a_state_machine_named_otherwise_or_defined_elsewhere_is_named(layout: Path):
    template = load_template(ROOT / "template.yaml")
    machines = template["Resources"]
    machines["NightlyReportV1StateMachine"]["Properties"]["Name"] = "nightly-report-v1"
    machines["TicketTriageV2StateMachine"]["Properties"]["DefinitionUri"] = (
        "statemachines/ticket-triage/v1.asl.json"
    )
    wrong_definition, wrong_name, missing = _faults(layout, template)  # in the template's order
    assert wrong_definition == (
        "TicketTriageV2StateMachine: DefinitionUri must be statemachines/ticket-triage/v2.asl.json, the "
        "definition of ticket-triage v2, not 'statemachines/ticket-triage/v1.asl.json'"
    )
    assert wrong_name.startswith(
        'NightlyReportV1StateMachine: its Name must be !Sub "${AWS::StackName}-<workflow>-v<version>", '
        "not 'nightly-report-v1'"
    )
    # The machine whose name is unreadable deploys no version: its version is reported missing too.
    assert missing.startswith(
        "statemachines/nightly-report/workflow.json lists version 1, which template.yaml"
    )


def test_two_state_machines_of_one_version_are_named(layout: Path):
    template = load_template(ROOT / "template.yaml")
    resources = template["Resources"]
    resources["TicketTriageV1CopyStateMachine"] = resources["TicketTriageV1StateMachine"]
    assert _faults(layout, template) == [
        "TicketTriageV1CopyStateMachine and TicketTriageV1StateMachine are both ticket-triage v1: remove one"
    ]


def test_a_state_machine_without_the_shared_settings_is_named():
    template = load_template(ROOT / "template.yaml")
    properties = template["Resources"]["NightlyReportV1StateMachine"]["Properties"]
    del properties["Tracing"]
    properties["Logging"] = {**properties["Logging"], "IncludeExecutionData": True}
    properties["Type"] = "EXPRESS"
    properties["Policies"] = []
    faults = state_machine_setting_faults(template)
    assert [fault.split(": ", 1)[1].split(" ")[0:2] for fault in faults] == [
        ["Type", "must"],
        ["add", "`Tracing:"],
        ["its", "Logging"],
        ["add", "`!Ref"],
    ]
    assert all(fault.startswith("NightlyReportV1StateMachine: ") for fault in faults)


@pytest.mark.parametrize(
    ("place", "value"),
    [
        ("Outputs", {"TicketTriageV1StateMachineArn": {"Value": {"Ref": "TicketTriageV1StateMachine"}}}),
        ("StartFunction", {"Fn::GetAtt": ["TicketTriageV1StateMachine", "Name"]}),
        ("StartFunction", {"Fn::Sub": "arn:aws:states:::execution:${TicketTriageV1StateMachine.Name}:*"}),
    ],
    ids=["output", "get-att", "sub"],
)
def test_a_state_machine_named_outside_its_block_is_named(place: str, value: Any):
    template = load_template(ROOT / "template.yaml")
    if place == "Outputs":
        template["Outputs"].update(value)
        where = "Outputs.TicketTriageV1StateMachineArn"
    else:
        template["Resources"][place]["Properties"]["Environment"] = {"Variables": {"MACHINE": value}}
        where = f"Resources.{place}"
    (fault,) = state_machine_reference_faults(template)
    assert fault.startswith(f"{where} names state machines ['TicketTriageV1StateMachine']: refer to")


def test_the_authorizer_may_only_read_credential_items():
    """One GetItem per request, of CRED# (an API key's hash) or USER# (a password's) items: nothing else of
    the table, and no write, is within its reach."""
    from flowport.aws.principals import LEADING_KEYS

    template = load_template(ROOT / "template.yaml")
    (policy,) = template["Resources"]["AuthorizerFunction"]["Properties"]["Policies"]
    (statement,) = policy["Statement"]
    assert statement["Action"] == "dynamodb:GetItem"
    assert statement["Resource"] == {"Fn::GetAtt": ["ExecutionsTable", "Arn"]}
    credential_keys = ["CRED#*", "USER#*"]
    assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": credential_keys}}
    assert set(credential_keys) <= set(LEADING_KEYS)


def test_api_gateways_own_auth_answers_are_the_problem_documents_of_the_functions():
    from flowport.core.errors import DEFAULT_CHALLENGE, Forbidden, Unauthorized

    api = load_template(ROOT / "template.yaml")["Resources"]["FlowportApi"]["Properties"]
    responses = api["GatewayResponses"]
    unauthorized = responses["UNAUTHORIZED"]
    assert unauthorized["ResponseParameters"]["Headers"]["WWW-Authenticate"] == f"'{DEFAULT_CHALLENGE}'"
    for kind, error in (("UNAUTHORIZED", Unauthorized), ("ACCESS_DENIED", Forbidden)):
        assert responses[kind]["StatusCode"] == error.status
        assert f'"code":"{error.code}"' in responses[kind]["ResponseTemplates"]["application/json"]
    assert {"AUTHORIZER_FAILURE", "AUTHORIZER_CONFIGURATION_ERROR"} <= set(responses)
    authorizer = api["Auth"]["Authorizers"][api["Auth"]["DefaultAuthorizer"]]
    assert authorizer["FunctionPayloadType"] == "REQUEST"
    assert authorizer["Identity"] == {"ReauthorizeEvery": 0}  # the cache is the authorizer's own (why: there)


def test_no_route_starts_reads_or_cancels_without_the_authorizer():
    """Only the OpenAPI document, the console's files and the ANY methods (which answer 405 and nothing
    else) skip it; a public workflow's start still goes through it (the authorizer lets credential-less
    callers in)."""
    template = load_template(ROOT / "template.yaml")
    api = template["Resources"]["FlowportApi"]["Properties"]
    assert api["Auth"]["DefaultAuthorizer"] in api["Auth"]["Authorizers"]
    public = []
    for logical_id, resource in template["Resources"].items():
        for event in resource.get("Properties", {}).get("Events", {}).values():
            if event["Type"] != "Api":
                continue
            properties = event["Properties"]
            if properties.get("Auth", {}).get("Authorizer") == "NONE":
                public.append((logical_id, properties["Method"].upper(), properties["Path"]))
    assert public
    for function, method, path in public:
        if function == "ConductorFunction":
            # Conductor's token exchange is called before there is a token (its SDK sends none); it only
            # checks the key's form and hands it back, to be checked by the authorizer on every call.
            assert method == "ANY" or (method, path) == ("POST", "/api/token"), (function, method, path)
            continue
        if function == "ConsoleFunction":  # static files, which call the API with the user's key
            assert path in ("/console", "/console/{asset}"), (function, method, path)
            continue
        assert method == "ANY" or path == "/openapi.json", (function, method, path)
        assert function == "StatusFunction", (function, method, path)  # the read-only one
