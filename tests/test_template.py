"""template.yaml, the workflow registry and the routes agree; policies name what they use."""

from __future__ import annotations

from pathlib import Path

import pytest
from flowport.api.methods import methods_by_path
from flowport.aws.live_views import VIEW_PREFIX
from flowport.core import search
from flowport.core.registry import Registry
from flowport.local.functions import load_module
from flowport.local.template import LOCAL_STACK, Stack, load_template

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = Registry.load(ROOT / "statemachines")


def test_every_workflow_version_is_a_state_machine_and_nothing_else_is(stack: Stack):
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


def test_each_function_serves_exactly_its_template_routes(stack: Stack):
    for spec in stack.functions.values():
        if not spec.routes:
            continue
        module = load_module(spec)
        served = {
            (method.upper(), path)
            for path, item in module.app.get_openapi_schema().paths.items()
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
    assert set(any_functions) == set(explicit)
    assert set(any_functions.values()) == {"StatusFunction"}  # read-only: it only answers 405 there
    assert {path: set(methods) for path, methods in methods_by_path().items()} == explicit


def test_start_may_start_every_registered_state_machine_and_nothing_more():
    template = load_template(ROOT / "template.yaml")
    statements = template["Resources"]["StartFunction"]["Properties"]["Policies"][0]["Statement"]
    started = [s for s in statements if "states:StartExecution" in s["Action"]]
    assert len(started) == 1
    resources = {r["Ref"] for r in started[0]["Resource"]}
    machines = {
        name for name, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::StateMachine"
    }
    assert resources == machines


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


def test_a_stream_response_ends_before_its_function_and_api_gateway_time_out():
    from flowport.api.routes.events import LAST_LOOK_SECONDS
    from flowport.settings import Settings

    timeout = load_template(ROOT / "template.yaml")["Resources"]["StreamFunction"]["Properties"]["Timeout"]
    longest_wait = Settings.model_fields["stream_max_seconds"].default
    # API Gateway's REST integrations time out at 29 s.
    assert longest_wait + LAST_LOOK_SECONDS <= timeout < 29


def test_the_search_indexes_are_the_ones_the_code_queries_and_project_a_summary():
    table = load_template(ROOT / "template.yaml")["Resources"]["ExecutionsTable"]["Properties"]
    indexes = {index["IndexName"]: index for index in table["GlobalSecondaryIndexes"]}
    assert set(indexes) == {index.value for index in search.Index}
    defined = {attribute["AttributeName"] for attribute in table["AttributeDefinitions"]}
    for index in search.Index:
        declared = indexes[index.value]
        keys = [key["AttributeName"] for key in declared["KeySchema"]]
        assert keys == [index.partition_key, search.SORT_KEY]
        assert {index.partition_key, search.SORT_KEY} <= defined
        if index is search.Index.BY_INPUT_FIELD:
            assert declared["Projection"] == {"ProjectionType": "KEYS_ONLY"}  # its records are read after
        else:
            projected = {index.partition_key, *declared["Projection"]["NonKeyAttributes"]}
            assert projected == set(search.LISTED_ATTRIBUTES) | {index.partition_key}, index


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
