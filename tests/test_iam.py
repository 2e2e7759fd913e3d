"""Each function's IAM policy allows every AWS call its code makes (moto does not enforce IAM; AWS does),
and every action it allows is called by some code path.

The calls are recorded with botocore's hooks while each function serves real requests and events.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flowport.aws import clients
from flowport.local.cloud import LocalCloud
from flowport.local.functions import invoke
from flowport.local.template import load_template

from tests.support import TICKET, Api, load_event, wait_until, with_request

ROOT = Path(__file__).resolve().parents[1]
SERVICE_PREFIX = {"dynamodb": "dynamodb", "sfn": "states"}
# A transaction of Puts is authorised by dynamodb:PutItem on each item's table.
SAME_AS = {"dynamodb:TransactWriteItems": "dynamodb:PutItem"}


def allowed_actions(function: str) -> set[str]:
    resource = load_template(ROOT / "template.yaml")["Resources"][function]
    actions: set[str] = set()
    for policy in resource["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            action = statement["Action"]
            actions.update([action] if isinstance(action, str) else action)
    return actions


def test_every_call_each_function_makes_is_allowed_by_its_policy(cloud: LocalCloud, api: Api):
    made: dict[str, set[str]] = defaultdict(set)
    current = {"function": ""}
    thread = threading.get_ident()

    def record(event_name: str, **_: Any) -> None:
        if threading.get_ident() == thread:
            _, service, operation = event_name.split(".")
            action = f"{SERVICE_PREFIX[service]}:{operation}"
            made[current["function"]].add(SAME_AS.get(action, action))

    for client in (clients.dynamodb(), clients.stepfunctions()):
        client.meta.events.register("before-call.*.*", record)

    def as_function(function: str, action: Callable[[], Any]) -> Any:
        current["function"] = function
        return action()

    keyed = {"Idempotency-Key": "iam", "X-On-Conflict": "FAIL_ON_RUNNING"}
    slow = {**TICKET, "delaySeconds": 60}
    first = as_function("StartFunction", lambda: api.start(body=slow, headers=keyed)).json()
    as_function("StartFunction", lambda: api.start(body={**TICKET, "customerId": "c-1"}))
    as_function("StartFunction", lambda: api.start(body=slow, headers=keyed))
    as_function("StartFunction", lambda: api.start())
    wait_until(
        lambda: (
            as_function("StatusFunction", lambda: api.get(first["executionId"])).json()["status"] == "RUNNING"
        )
    )
    as_function("StatusFunction", lambda: api.call(load_event("get-openapi")))
    as_function(
        "StatusFunction",
        lambda: api.call(
            with_request(
                load_event("get-execution-history"), path_parameters={"executionId": first["executionId"]}
            )
        ),
    )
    as_function(
        "StreamFunction",
        lambda: api.call(
            with_request(
                load_event("stream-execution-events"),
                path_parameters={"executionId": first["executionId"]},
                headers={"Last-Event-ID": None},
            )
        ),
    )
    as_function("StatusFunction", lambda: api.call(load_event("list-executions")))
    as_function("StatusFunction", lambda: api.search(workflow="ticket-triage", **{"input.customerId": "c-1"}))
    as_function("CancelFunction", lambda: api.cancel(first["executionId"]))
    cloud.close()
    second = as_function("StartFunction", lambda: api.start(body=slow)).json()
    event = load_event("execution-status-change")
    machine = cloud.stack.state_machines["TicketTriageV2StateMachine"]
    arn = f"{machine.arn.replace(':stateMachine:', ':execution:')}:{second['executionId']}"
    now_millis = int(time.time() * 1000)
    event["detail"].update(
        {
            "executionArn": arn,
            "stateMachineArn": machine.arn,
            "name": second["executionId"],
            "startDate": now_millis - 1000,
            "stopDate": now_millis,
        }
    )
    as_function("SyncFunction", lambda: invoke(cloud.stack.functions["SyncFunction"], event))
    as_function("StatusFunction", lambda: api.get(second["executionId"]))

    for client in (clients.dynamodb(), clients.stepfunctions()):
        client.meta.events.unregister("before-call.*.*", record)
    assert set(made) == {
        "StartFunction",
        "StatusFunction",
        "StreamFunction",
        "CancelFunction",
        "SyncFunction",
    }
    for function, actions in made.items():
        assert actions <= allowed_actions(function), (function, actions - allowed_actions(function))
        # The other direction: nothing allowed that no code path uses.
        unused = allowed_actions(function) - actions - set(NOT_REACHED_HERE.get(function, {}))
        assert not unused, f"{function} is allowed {unused}, which no call here used"


# Allowed actions whose code paths the scenario above does not reach (faults, races, large outputs), each
# with the path that uses it; test_the_paths_not_reached_here_exist checks each is still called.
_OUTPUT_TOO_LARGE = {
    "states:DescribeExecution": "an output too large for the record is read from Step Functions "
    "(LiveExecutions.output_from_step_functions)"
}
_STALE_VIEW = {
    "dynamodb:UpdateItem": "a reader that finds the live view stale claims its refresh (DynamoLiveViews)",
    "states:GetExecutionHistory": "the claimant reads the newest page of history (LiveExecutions)",
    "dynamodb:PutItem": "and keeps the new view (DynamoLiveViews.put)",
}
NOT_REACHED_HERE = {
    "StartFunction": {
        "dynamodb:GetItem": "a key whose start was abandoned: its record is read (_status_of_key)",
        "dynamodb:UpdateItem": "taking over an abandoned start, or recording a failed one (ExecutionStore)",
    },
    "StatusFunction": _OUTPUT_TOO_LARGE,
    "StreamFunction": {**_OUTPUT_TOO_LARGE, **_STALE_VIEW},
    "SyncFunction": {
        **_OUTPUT_TOO_LARGE,
        "states:StopExecution": "an execution started after its record was cancelled is stopped "
        "(ApplyStatusChange._stop_if_running)",
        "dynamodb:PutItem": "the final live view, once the history shows the end (ApplyStatusChange._final)",
    },
}
BOTO3_METHOD = {
    "dynamodb:GetItem": "get_item",
    "dynamodb:PutItem": "put_item",
    "dynamodb:UpdateItem": "update_item",
    "states:DescribeExecution": "describe_execution",
    "states:GetExecutionHistory": "get_execution_history",
    "states:StopExecution": "stop_execution",
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
