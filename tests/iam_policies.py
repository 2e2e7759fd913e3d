"""Evaluating the template's IAM policies as AWS would, for the calls the functions really make.

moto does not enforce IAM, so tests record each AWS call a handler makes (its action and the resource IAM
authorises it on) and ask whether the function's policy, resolved for the local stack, allows it.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from flowport.aws import clients
from flowport.local import functions
from flowport.local.authorizer import iam_matches
from flowport.local.template import LOCAL_ACCOUNT, LOCAL_REGION, LOCAL_STACK, FunctionSpec, _Resolver

from tests.template_checks import as_list

SERVICE_PREFIX = {"dynamodb": "dynamodb", "sfn": "states", "sqs": "sqs"}
# The action each kind of item in a DynamoDB transaction is authorised by, on that item's table.
TRANSACTION_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
# The request parameter that names the resource of each Step Functions call flowport makes.
STATES_RESOURCE_PARAMETER = {
    "StartExecution": "stateMachineArn",
    "DescribeExecution": "executionArn",
    "GetExecutionHistory": "executionArn",
    "StopExecution": "executionArn",
    "RedriveExecution": "executionArn",
}


@dataclass(frozen=True)
class Call:
    action: str  # "states:StartExecution"
    resource: str  # the ARN IAM authorises it on


@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]


def glob_matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """Whether an IAM Action or Resource element matches: actions ignore case, ARNs do not (the local
    gateway evaluates authorizers' policies with the same matching)."""
    return iam_matches(pattern, value, case_sensitive=case_sensitive)


def allows(statements: list[Statement], call: Call) -> bool:
    """Whether an Allow statement covers the call (the template has no Deny: tests/test_iam_template.py)."""
    return any(
        any(glob_matches(action, call.action, case_sensitive=False) for action in statement.actions)
        and any(glob_matches(resource, call.resource) for resource in statement.resources)
        for statement in statements
    )


def function_statements(
    template: dict[str, Any], function: str, stack_name: str = LOCAL_STACK
) -> list[Statement]:
    """A function's inline policy statements with their intrinsic functions resolved as for a stack of this
    name in the local account and region. Other kinds of policy are left out, so what they would allow
    counts as not allowed."""
    resolver = _Resolver(template, stack_name)
    statements = []
    for policy in template["Resources"][function]["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            resources = tuple(str(resolver.resolve(resource)) for resource in as_list(statement["Resource"]))
            unresolved = [resource for resource in resources if "${" in resource]
            assert not unresolved, f"{function}: not resolved for the local stack: {unresolved}"
            statements.append(Statement(tuple(as_list(statement["Action"])), resources))
    return statements


def table_arn(table: str) -> str:
    return (
        table
        if table.startswith("arn:")
        else f"arn:aws:dynamodb:{LOCAL_REGION}:{LOCAL_ACCOUNT}:table/{table}"
    )


def calls_of(service: str, operation: str, params: Mapping[str, Any]) -> list[Call]:
    """The (action, resource) pairs IAM authorises one API call by."""
    prefix = SERVICE_PREFIX[service]
    if service == "sfn":
        parameter = STATES_RESOURCE_PARAMETER.get(operation)
        assert parameter, (
            f"states:{operation}: add the parameter naming its resource to STATES_RESOURCE_PARAMETER"
        )
        return [Call(f"{prefix}:{operation}", str(params[parameter]))]
    if service == "sqs":  # by its URL, https://sqs.<region>.amazonaws.com/<account>/<name>
        _, _, _, account, name = str(params["QueueUrl"]).split("/", 4)
        return [Call(f"{prefix}:{operation}", f"arn:aws:sqs:{LOCAL_REGION}:{account}:{name}")]
    if operation == "TransactWriteItems":
        return [
            Call(TRANSACTION_ITEM_ACTIONS[kind], table_arn(request["TableName"]))
            for item in params["TransactItems"]
            for kind, request in item.items()
        ]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [Call(f"{prefix}:{operation}", table_arn(table)) for table in params["RequestItems"]]
    table = table_arn(params["TableName"])
    index = params.get("IndexName")
    return [Call(f"{prefix}:{operation}", f"{table}/index/{index}" if index else table)]


class CallsByFunction:
    """The calls made through the shared clients, by the template function whose handler made them.

    A handler is known by the thread it runs on, so calls made while the local EventBridge delivers to the
    sync function on its own thread count as the sync function's. Calls made outside any handler (by a test
    itself) are not recorded.
    """

    def __init__(self) -> None:
        self.made: dict[str, set[Call]] = defaultdict(set)
        self._running = threading.local()
        self._lock = threading.Lock()

    def handler_of(self, spec: FunctionSpec) -> functions.Handler:
        """In place of flowport.local.functions.load_handler: the handler, run as `spec`'s."""
        handler = _load_handler(spec)

        def run_as_function(event: Any, context: Any) -> Any:
            outer = getattr(self._running, "function", None)
            self._running.function = spec.logical_id
            try:
                return handler(event, context)
            finally:
                self._running.function = outer

        return run_as_function

    def record(self, event_name: str, params: Mapping[str, Any], **_: Any) -> None:
        # event_name is "before-parameter-build.<service id>.<Operation>"; params are the caller's.
        function = getattr(self._running, "function", None)
        if function is None:
            return
        _, service, operation = event_name.split(".")
        with self._lock:
            self.made[function].update(calls_of(service, operation, params))


_load_handler = functions.load_handler


@contextmanager
def calls_by_function() -> Iterator[CallsByFunction]:
    """Record calls while the block runs, inside a running local cloud (whose shared clients it hooks)."""
    recorder = CallsByFunction()
    hooked = (clients.dynamodb(), clients.stepfunctions(), clients.sqs())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(functions, "load_handler", recorder.handler_of)
        for client in hooked:
            client.meta.events.register("before-parameter-build.*.*", recorder.record)
        try:
            yield recorder
        finally:
            for client in hooked:
                client.meta.events.unregister("before-parameter-build.*.*", recorder.record)


# What each function may do to an execution, when it is not DescribeExecution: cancel only stops them.
EXECUTION_ACTION = {"CancelFunction": "states:StopExecution"}
