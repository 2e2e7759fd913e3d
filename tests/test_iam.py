"""Each function's IAM policy allows every AWS call its code makes, on the resource it makes it on (moto does
not enforce IAM; AWS does), and every action it allows is called by some code path.

The calls are recorded with botocore's hooks while each function serves real requests and events, and
matched against the policies as IAM matches them (tests/iam_policies.py).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from flowport import services
from flowport.core.admission import Holder
from flowport.local.cloud import FAKE_CREDENTIALS, LocalCloud, running
from flowport.local.functions import invoke
from flowport.local.template import (
    LOCAL_ACCOUNT,
    LOCAL_REGION,
    LOCAL_STACK,
    Stack,
    build_stack,
    load_template,
)
from moto.events.models import EventPattern

from tests.iam_policies import (
    EXECUTION_ACTION,
    Call,
    Statement,
    allows,
    calls_by_function,
    calls_of,
    function_statements,
    glob_matches,
)
from tests.support import (
    TICKET,
    Api,
    admin_event,
    issue_key,
    load_event,
    new_principal,
    set_password,
    wait_until,
    with_request,
)
from tests.template_checks import EXECUTIONS, STATE_MACHINES, as_list
from tests.webhooks.receiver import receiving

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = load_template(ROOT / "template.yaml")
API_FUNCTIONS = ("StartFunction", "StatusFunction", "StreamFunction", "CancelFunction", "ConductorFunction")
# The functions whose calls the scenario below records: the API's, the admin routes', the sync function
# and the webhooks'.
CALLING = (
    *API_FUNCTIONS,
    "AdminFunction",
    "SyncFunction",
    "AuthorizerFunction",
    "ReconcileFunction",
    "DeliverFunction",
    "DeliveriesFunction",
)
CallsMade = dict[str, set[Call]]


def allowed_actions(function: str) -> set[str]:
    return {action for statement in function_statements(TEMPLATE, function) for action in statement.actions}


def not_allowed(calls: set[Call], statements: list[Statement]) -> set[Call]:
    return {call for call in calls if not allows(statements, call)}


@pytest.fixture(scope="module")
def calls_made(stack: Stack) -> CallsMade:
    """Every call each function makes while serving the routes and events below, by function."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**FAKE_CREDENTIALS, "POWERTOOLS_TRACE_DISABLED": "1"}.items():
            patch.setenv(name, value)
        for name in ("FLOWPORT_START_LEASE_SECONDS", "FLOWPORT_START_DEADLINE_SECONDS"):
            patch.delenv(name, raising=False)
        # Live views stale at once: every read, the stream's too, takes the refresh path with its writes.
        patch.setenv("FLOWPORT_LIVE_VIEW_SECONDS", "0.001")
        # Every slot settled at once: the reconciler judges each holder as it finds it.
        patch.setenv("FLOWPORT_SLOT_GRACE_SECONDS", "0.001")
        # A webhook's retry after a failure comes at once.
        patch.setenv("FLOWPORT_WEBHOOK_CLOCK_SCALE", "0.00001")
        with running(stack) as cloud, calls_by_function() as recorder:
            api = Api(cloud.stack)
            keyed = {"Idempotency-Key": "iam", "X-On-Conflict": "FAIL_ON_RUNNING"}
            slow = {**TICKET, "delaySeconds": 60}
            first = api.start(body=slow, headers=keyed).json()
            api.start(body={**TICKET, "customerId": "c-1"})
            api.start(body=slow, headers=keyed)
            api.start()
            wait_until(lambda: api.get(first["executionId"]).json()["status"] == "RUNNING")
            api.call(load_event("get-openapi"))
            api.call(
                with_request(
                    load_event("get-execution-history"), path_parameters={"executionId": first["executionId"]}
                )
            )
            api.call(
                with_request(
                    load_event("stream-execution-events"),
                    path_parameters={"executionId": first["executionId"]},
                    headers={"Last-Event-ID": None},
                )
            )
            api.call(load_event("list-executions"))
            api.search(workflow="ticket-triage", **{"input.customerId": "c-1"})
            # Two run, the third waits; the first one's end (its cancel) starts it: the sync function's
            # dispatch. Cancelled, not ended by itself, so that the third surely waits by then.
            pushes = [api.start("partner-sync", {"batchId": f"b{s}", "seconds": s}) for s in (60, 61, 62)]
            assert pushes[2].json()["status"] == "QUEUED"
            api.cancel(pushes[0].json()["executionId"])
            wait_until(lambda: api.get(pushes[2].json()["executionId"]).json()["status"] == "RUNNING")
            api.call(with_request(load_event("get-workflow"), path_parameters={"name": "partner-sync"}))
            services.slot_store().take("partner-sync", Holder("no-record", 0, 0.0), None)
            invoke(cloud.stack.functions["ReconcileFunction"], load_event("reconcile-schedule"))
            api.cancel(first["executionId"])
            # The cancelled execution runs again from where it stopped, and again as a new execution.
            api.retry(first["executionId"], headers={"Idempotency-Key": "iam", "X-On-Conflict": "FAIL"})
            api.rerun(first["executionId"])
            _authorize_with_a_key_and_a_password(cloud)
            _drive_conductor(api)
            _deliver_a_callback(api)
            # Delivers what the local EventBridge still holds; the sync function is invoked by hand below.
            cloud.close()
            second = api.start(body=slow).json()
            event = load_event("execution-status-change")
            machine = cloud.stack.state_machines["TicketTriageV2StateMachine"]
            arn = f"{machine.arn.replace(':stateMachine:', ':execution:')}:{second['executionId']}"
            now_millis = int(time.time() * 1000)  # dated now: a sample's date would be long expired
            event["detail"].update(
                {
                    "executionArn": arn,
                    "stateMachineArn": machine.arn,
                    "name": second["executionId"],
                    "startDate": now_millis - 1000,
                    "stopDate": now_millis,
                }
            )
            invoke(cloud.stack.functions["SyncFunction"], event)
            api.get(second["executionId"])
            _manage_principals(api)
            made = {function: set(calls) for function, calls in recorder.made.items()}
        services.reset()
    return made


def _deliver_a_callback(api: Api) -> None:
    """A start with a callback whose receiver fails once: the sync function queues the end, the deliver
    function posts it twice (queuing the second attempt), the deliveries route lists both."""
    secret = services.rotate_webhook_secret().rotate(TICKET_STARTER)
    with receiving(secret) as receiver:
        started = api.start(body=TICKET, query={"callbackUrl": f"{receiver.url}/fail/1"}).json()
        wait_until(lambda: len(receiver.deliveries) == 2)
    assert api.deliveries(started["executionId"]).status == 200


# The caller of events/start-execution.json, whom Api.start starts as.
TICKET_STARTER = "p_sampleprincipal00001"


def _manage_principals(api: Api) -> None:
    """Every admin route: a principal, its key and password, the key revoked, the principal deleted."""
    created = api.call(load_event("admin-create-principal")).json()
    principal = {"principalId": created["principalId"]}
    key = api.call(with_request(load_event("admin-issue-key"), path_parameters=principal)).json()
    password = json.dumps({"username": "iam", "password": "a long enough password"})
    api.call(admin_event("GET", "/admin/principals"))
    api.call(admin_event("GET", "/admin/principals/{principalId}", principal))
    api.call(admin_event("PUT", "/admin/principals/{principalId}/password", principal, password))
    api.call(admin_event("DELETE", "/admin/keys/{keyId}", {"keyId": key["keyId"]}))
    api.call(admin_event("DELETE", "/admin/principals/{principalId}", principal))


def _conductor(
    api: Api,
    method: str,
    resource: str,
    path_parameters: dict[str, str] | None = None,
    *,
    query: dict[str, str] | None = None,
    body: str | None = None,
) -> Any:
    """A request to Conductor's /api, from events/conductor-start.json on another route."""
    event = load_event("conductor-start")
    event.update(httpMethod=method, resource=resource, path=resource)
    event["requestContext"].update(httpMethod=method, resourcePath=resource)
    return api.call(
        with_request(
            event, path_parameters=path_parameters, query=query, body=body, keep_body=body is not None
        )
    )


def _drive_conductor(api: Api) -> None:
    """Every Conductor route the conductor function serves: both starts (one keyed, twice; one that
    queues), get with its tasks, status, search, terminate, retry and restart."""
    keyed = {"idempotencyKey": "iam-conductor", "idempotencyStrategy": "FAIL_ON_RUNNING"}
    body = json.dumps({"name": "ticket-triage", "input": {**TICKET, "delaySeconds": 60}, **keyed})
    started = _conductor(api, "POST", "/api/workflow", body=body)
    assert started.status == 200, started.body
    workflow = {"workflowId": started.body}
    assert _conductor(api, "POST", "/api/workflow", body=body).status == 409  # its execution runs
    by_name = _conductor(
        api, "POST", "/api/workflow/{workflowId}", {"workflowId": "ticket-triage"}, body=json.dumps(TICKET)
    )
    assert by_name.status == 200, by_name.body
    # partner-sync's two slots are taken by now: this one joins the queue (the slots' check).
    queued = _conductor(
        api,
        "POST",
        "/api/workflow/{workflowId}",
        {"workflowId": "partner-sync"},
        body=json.dumps({"batchId": "conductor", "seconds": 1}),
    )
    assert queued.status == 200, queued.body
    assert api.get(queued.body).json()["status"] == "QUEUED"
    wait_until(lambda: api.get(started.body).json()["status"] == "RUNNING")
    assert _conductor(api, "GET", "/api/workflow/{workflowId}", workflow).json()["tasks"]
    assert _conductor(api, "GET", "/api/workflow/{workflowId}/status", workflow).status == 200
    search = _conductor(api, "GET", "/api/workflow/search", query={"query": "workflowType = ticket-triage"})
    assert search.json()["totalHits"] >= 2
    assert _conductor(api, "DELETE", "/api/workflow/{workflowId}", workflow).status == 204
    assert _conductor(api, "POST", "/api/workflow/{workflowId}/retry", workflow).status == 204
    assert _conductor(api, "POST", "/api/workflow/{workflowId}/restart", workflow).status == 200


def _authorize_with_a_key_and_a_password(cloud: LocalCloud) -> None:
    """The authorizer, once for an API key and once for a password (its two kinds of read), on a search."""
    principal = new_principal()
    set_password(principal, "iam-user", "correct horse battery")
    sample = load_event("authorize-request")
    others = {name: value for name, value in sample["headers"].items() if name != "X-API-Key"}
    for credential in (
        {"X-API-Key": issue_key(principal).secret},
        {"user": "iam-user", "password": "correct horse battery"},
    ):
        event = {
            **sample,
            "headers": {**others, **credential},
            "resource": "/executions",
            "pathParameters": None,
        }
        invoke(cloud.stack.functions["AuthorizerFunction"], event)


def test_the_scenario_exercises_each_function_that_calls_aws(calls_made: CallsMade):
    assert set(calls_made) == set(CALLING)
    started = {
        call.resource for call in calls_made["StartFunction"] if call.action == "states:StartExecution"
    }
    machine = f"arn:aws:states:{LOCAL_REGION}:{LOCAL_ACCOUNT}:stateMachine:{LOCAL_STACK}-ticket-triage-v2"
    assert started == {machine, machine.replace("ticket-triage-v2", "partner-sync-v1")}
    redriven = {
        call.resource for call in calls_made["StartFunction"] if call.action == "states:RedriveExecution"
    }
    assert len(redriven) == 1
    assert redriven.pop().startswith(machine.replace(":stateMachine:", ":execution:") + ":")


@pytest.mark.parametrize("function", CALLING)
def test_every_call_each_function_makes_is_allowed_by_its_policy(function: str, calls_made: CallsMade):
    refused = not_allowed(calls_made[function], function_statements(TEMPLATE, function))
    assert not refused, f"{function}'s policy does not allow {sorted(refused, key=str)}"


@pytest.mark.parametrize("function", CALLING)
def test_every_action_each_function_is_allowed_is_called(function: str, calls_made: CallsMade):
    called = {call.action for call in calls_made[function]}
    unused = allowed_actions(function) - called - set(NOT_REACHED_HERE.get(function, {}))
    assert not unused, f"{function} is allowed {unused}, which no call here used"


def _without_action(statements: list[Statement], action: str) -> list[Statement]:
    return [
        Statement(
            tuple(a for a in statement.actions if a != action), statement.resources, statement.conditions
        )
        for statement in statements
    ]


def _state_machines_of_stack(statements: list[Statement], stack_name: str) -> list[Statement]:
    """The statements with the local stack's state machines and executions replaced by another stack's."""
    return [
        Statement(
            statement.actions,
            tuple(
                r.replace(f":{LOCAL_STACK}-", f":{stack_name}-") if r.startswith("arn:aws:states:") else r
                for r in statement.resources
            ),
            statement.conditions,
        )
        for statement in statements
    ]


@pytest.mark.parametrize(
    ("function", "action"),
    [
        ("StartFunction", "states:StartExecution"),
        ("StartFunction", "states:RedriveExecution"),
        ("StatusFunction", "states:GetExecutionHistory"),
        ("CancelFunction", "states:StopExecution"),
        ("SyncFunction", "dynamodb:UpdateItem"),
        ("AdminFunction", "dynamodb:DeleteItem"),
    ],
)
def test_the_check_refuses_a_policy_that_lacks_an_action(function: str, action: str, calls_made: CallsMade):
    lacking = _without_action(function_statements(TEMPLATE, function), action)
    refused = not_allowed(calls_made[function], lacking)
    assert {call.action for call in refused} == {action}


@pytest.mark.parametrize("function", [*API_FUNCTIONS, "SyncFunction"])
def test_the_check_refuses_a_policy_that_names_another_stacks_state_machines(
    function: str, calls_made: CallsMade
):
    elsewhere = _state_machines_of_stack(function_statements(TEMPLATE, function), "other-stack")
    refused = not_allowed(calls_made[function], elsewhere)
    assert refused == {call for call in calls_made[function] if call.action.startswith("states:")}
    assert refused


def test_the_check_refuses_a_policy_on_another_table():
    statements = [Statement(("dynamodb:GetItem",), ("arn:aws:dynamodb:us-east-1:123456789012:table/other",))]
    table = f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{LOCAL_STACK}-ExecutionsTable"
    assert not allows(statements, Call("dynamodb:GetItem", table))
    assert allows(statements, Call("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:123456789012:table/other"))


TABLE = f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{LOCAL_STACK}-ExecutionsTable"
ONLY_VIEWS = (("ForAllValues:StringLike", "dynamodb:LeadingKeys", ("LIVE#*",)),)
ONLY_HOSTS = (
    ("ForAllValues:StringEquals", "dynamodb:Attributes", ("pk", "callbackHosts")),
    ("StringEqualsIfExists", "dynamodb:Select", ("SPECIFIC_ATTRIBUTES",)),
)


def test_the_check_holds_a_call_to_a_statements_leading_keys():
    statements = [Statement(("dynamodb:PutItem",), (TABLE,), ONLY_VIEWS)]
    assert allows(statements, Call("dynamodb:PutItem", TABLE, ("LIVE#<id>",)))
    assert not allows(statements, Call("dynamodb:PutItem", TABLE, ("EXEC#<id>",)))
    assert not allows(statements, Call("dynamodb:PutItem", TABLE, ("LIVE#<id>", "EXEC#<id>")))


def test_the_check_holds_a_read_to_a_statements_attributes():
    statements = [Statement(("dynamodb:GetItem",), (TABLE,), ONLY_HOSTS)]
    assert allows(statements, Call("dynamodb:GetItem", TABLE, ("WHSEC#<id>",), frozenset({"callbackHosts"})))
    assert not allows(statements, Call("dynamodb:GetItem", TABLE, ("WHSEC#<id>",), frozenset({"current"})))
    assert not allows(statements, Call("dynamodb:GetItem", TABLE, ("WHSEC#<id>",)))  # the whole item


def test_the_check_knows_the_keys_and_attributes_of_each_kind_of_dynamodb_call():
    key = {"pk": {"S": "WHSEC#p_1"}, "sk": {"S": "WHSEC"}}
    (read,) = calls_of(
        "dynamodb",
        "GetItem",
        {
            "TableName": TABLE,
            "Key": key,
            "ProjectionExpression": "#h, pk",
            "ExpressionAttributeNames": {"#h": "callbackHosts"},
        },
    )
    assert (read.leading_keys, read.attributes) == (("WHSEC#<id>",), frozenset({"pk", "callbackHosts"}))
    batch = calls_of(
        "dynamodb",
        "BatchGetItem",
        {"RequestItems": {TABLE: {"Keys": [key, {"pk": {"S": "DELIVERY#e"}, "sk": {"S": "m"}}]}}},
    )
    assert sorted(call.leading_keys for call in batch) == [("DELIVERY#<id>",), ("WHSEC#<id>",)]
    assert all(call.attributes is None for call in batch)
    (query,) = calls_of(
        "dynamodb",
        "Query",
        {
            "TableName": TABLE,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :s)",
            "ExpressionAttributeValues": {":pk": {"S": "PRINCIPALS"}, ":s": {"S": "P#"}},
        },
    )
    assert query.leading_keys == ("PRINCIPALS",)
    puts = calls_of(
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "KEY#h"}}}},
                {"Update": {"TableName": TABLE, "Key": {"pk": {"S": "EXEC#e"}}}},
            ]
        },
    )
    assert [(call.action, call.leading_keys) for call in puts] == [
        ("dynamodb:PutItem", ("KEY#<id>",)),
        ("dynamodb:UpdateItem", ("EXEC#<id>",)),
    ]


EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:flowport-local-ticket-triage-v1:3f2a"


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        # `*` runs over `:` (an execution ARN's machine name and execution name) and `/`.
        ("arn:aws:states:us-east-1:123456789012:execution:flowport-local-*:*", EXECUTION, True),
        ("arn:aws:states:us-east-1:123456789012:execution:flowport-local-*", EXECUTION, True),
        ("arn:aws:states:*", EXECUTION, True),
        ("*", EXECUTION, True),
        (
            "arn:aws:dynamodb:us-east-1:1:table/t/index/*",
            "arn:aws:dynamodb:us-east-1:1:table/t/index/ByDay",
            True,
        ),
        ("arn:aws:dynamodb:us-east-1:1:table/t/index/*", "arn:aws:dynamodb:us-east-1:1:table/t", False),
        # `?` is exactly one character.
        (
            "arn:aws:states:us-east-1:123456789012:execution:flowport-local-ticket-triage-v?:*",
            EXECUTION,
            True,
        ),
        (
            "arn:aws:states:us-east-1:123456789012:execution:flowport-local-ticket-triage-?:*",
            EXECUTION,
            False,
        ),
        # The whole ARN must match: no prefix or substring matches, and case counts.
        ("arn:aws:states:us-east-1:123456789012:execution:flowport-local-", EXECUTION, False),
        ("arn:aws:states:us-east-1:123456789012:execution:other-*:*", EXECUTION, False),
        ("arn:aws:states:us-east-1:123456789012:stateMachine:flowport-local-*", EXECUTION, False),
        ("arn:aws:states:us-east-1:111122223333:execution:flowport-local-*:*", EXECUTION, False),
        ("arn:aws:states:us-east-1:123456789012:execution:FLOWPORT-LOCAL-*:*", EXECUTION, False),
        # Regular-expression and fnmatch syntax means nothing to IAM.
        ("arn:aws:states:us-east-1:123456789012:execution:flowport.local-*:*", EXECUTION, False),
        ("arn:aws:states:us-east-1:123456789012:execution:flowport-loca[l]-*:*", EXECUTION, False),
    ],
)
def test_resources_match_with_the_wildcards_of_iam(pattern: str, value: str, matches: bool):
    assert glob_matches(pattern, value) is matches


def test_actions_match_ignoring_case_as_in_iam():
    statements = [Statement(("states:describeexecution",), ("*",))]
    assert allows(statements, Call("states:DescribeExecution", EXECUTION))
    assert not allows(statements, Call("states:DescribeExecutions", EXECUTION))


def _rule_pattern(stack_name: str) -> EventPattern:
    (rule,) = build_stack(ROOT / "template.yaml", stack_name).functions["SyncFunction"].rules
    return EventPattern.load(json.dumps(rule.pattern))


def _status_change(state_machine_arn: str) -> dict[str, Any]:
    event = load_event("execution-status-change")
    event["detail"]["stateMachineArn"] = state_machine_arn
    return event


def test_the_stacks_prefix_also_covers_a_stack_whose_name_extends_it():
    """Why README asks for stack names that are not prefixes of each other: `flowport-*` takes in
    `flowport-dev-ticket-triage-v1`. The other way round, `flowport-dev-*` does not reach `flowport`."""
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:{stack}-ticket-triage-v1"
    execution = "arn:aws:states:us-east-1:123456789012:execution:{stack}-ticket-triage-v1:3f2a"
    for function in API_FUNCTIONS:
        of_flowport = function_statements(TEMPLATE, function, "flowport")
        of_flowport_dev = function_statements(TEMPLATE, function, "flowport-dev")
        action = EXECUTION_ACTION.get(function, "states:DescribeExecution")
        assert allows(of_flowport, Call(action, execution.format(stack="flowport-dev")))
        assert not allows(of_flowport_dev, Call(action, execution.format(stack="flowport")))
    start = function_statements(TEMPLATE, "StartFunction", "flowport")
    assert allows(start, Call("states:StartExecution", machine.format(stack="flowport-dev")))
    assert _rule_pattern("flowport").matches_event(_status_change(machine.format(stack="flowport-dev")))
    assert not _rule_pattern("flowport-dev").matches_event(_status_change(machine.format(stack="flowport")))
    # Not a stack whose name merely starts the same: the dash is part of the prefix.
    assert not allows(start, Call("states:StartExecution", machine.format(stack="flowportdev")))
    assert not _rule_pattern("flowport").matches_event(_status_change(machine.format(stack="flowportdev")))


def test_the_policies_are_the_scoped_forms_these_tests_resolve():
    """The resolution above is of the exact forms tests/test_iam_template.py accepts."""
    resources = {
        resource["Fn::Sub"]
        for function in API_FUNCTIONS
        for policy in TEMPLATE["Resources"][function]["Properties"]["Policies"]
        for statement in policy["Statement"]
        if any(action.startswith("states:") for action in as_list(statement["Action"]))
        for resource in as_list(statement["Resource"])
    }
    assert resources == {STATE_MACHINES, EXECUTIONS}


# Allowed actions whose code paths the scenario above does not reach (faults, races, large outputs), each
# with the path that uses it; test_the_paths_not_reached_here_exist checks each is still called.
_OUTPUT_TOO_LARGE = {
    "states:DescribeExecution": "an output too large for the record is read from Step Functions "
    "(LiveExecutions.output_from_step_functions)"
}
NOT_REACHED_HERE = {
    "StartFunction": {
        "dynamodb:GetItem": "a key whose start was abandoned: its record is read (_status_of_key)",
        "sqs:SendMessage": "a start that waits in its queue, for a callback asking for queued (_started)",
        "dynamodb:UpdateItem": "taking over an abandoned start, or recording a failed one (ExecutionStore)",
    },
    "StatusFunction": _OUTPUT_TOO_LARGE,
    "StreamFunction": _OUTPUT_TOO_LARGE,
    "SyncFunction": {
        **_OUTPUT_TOO_LARGE,
        "states:StopExecution": "an execution started after its record was cancelled is stopped "
        "(ApplyStatusChange._stop_if_running)",
        "dynamodb:PutItem": "the final live view, once the history shows the end (ApplyStatusChange._final)",
        "states:RedriveExecution": "a waiting retry, redriven by the dispatch (Admission.launch)",
    },
    "ReconcileFunction": {
        "dynamodb:PutItem": "the final live view of an end whose event never came (Reconcile._holder)",
        "states:GetExecutionHistory": "how far an execution whose end event never came got",
        "states:StartExecution": "a dispatch that never reached Step Functions, started again",
        "states:RedriveExecution": "a waiting retry's dispatch that never reached Step Functions, again",
        "sqs:SendMessage": "the callback of an end whose event never came (EnqueueDelivery.reported)",
    },
}
BOTO3_METHOD = {
    "dynamodb:GetItem": "get_item",
    "dynamodb:PutItem": "put_item",
    "dynamodb:UpdateItem": "update_item",
    "states:DescribeExecution": "describe_execution",
    "states:GetExecutionHistory": "get_execution_history",
    "states:StopExecution": "stop_execution",
    "states:StartExecution": "start_execution",
    "states:RedriveExecution": "redrive_execution",
    "sqs:SendMessage": "send_message",
}


def test_the_paths_not_reached_here_exist():
    code = "\n".join(
        path.read_text()
        for path in (ROOT / "layers/flowport/flowport").rglob("*.py")
        if "local" not in path.parts
    )
    for function, actions in NOT_REACHED_HERE.items():
        for action in actions:
            assert action in allowed_actions(function), (function, action)
            assert f".{BOTO3_METHOD[action]}(" in code, action
