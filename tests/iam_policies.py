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
    # DynamoDB's condition keys for it: the partition key values of the items it touches, each kept by its
    # prefix ("EXEC#<id>" for any execution), and the attributes it reads or writes, None for all of them
    # (a read without a projection, a write IAM sees whole).
    leading_keys: tuple[str, ...] = ()
    attributes: frozenset[str] | None = None


@dataclass(frozen=True)
class Statement:
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    # (operator, condition key, values), as the template writes its Condition block.
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()


def _holds(operator: str, key: str, values: tuple[str, ...], call: Call) -> bool:
    """One condition of a statement, as IAM evaluates it for the call: only those the template uses (any
    other fails the test, rather than pass unchecked)."""
    if (operator, key) == ("ForAllValues:StringLike", "dynamodb:LeadingKeys"):
        return all(any(glob_matches(value, leading) for value in values) for leading in call.leading_keys)
    if (operator, key) == ("ForAllValues:StringEquals", "dynamodb:Attributes"):
        return call.attributes is not None and call.attributes <= set(values)
    if (operator, key) == ("StringEqualsIfExists", "dynamodb:Select"):
        # A read names its attributes (SPECIFIC_ATTRIBUTES) or takes them all; a write has no Select.
        if not call.action.startswith(("dynamodb:Get", "dynamodb:BatchGet", "dynamodb:Query")):
            return True
        return ("SPECIFIC_ATTRIBUTES" if call.attributes is not None else "ALL_ATTRIBUTES") in values
    raise AssertionError(f"the IAM check does not evaluate {operator} on {key}: teach it, in _holds")


def glob_matches(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """Whether an IAM Action or Resource element matches: actions ignore case, ARNs do not (the local
    gateway evaluates authorizers' policies with the same matching)."""
    return iam_matches(pattern, value, case_sensitive=case_sensitive)


def allows(statements: list[Statement], call: Call) -> bool:
    """Whether an Allow statement covers the call, its conditions included (the template has no Deny:
    tests/test_iam_template.py)."""
    return any(
        any(glob_matches(action, call.action, case_sensitive=False) for action in statement.actions)
        and any(glob_matches(resource, call.resource) for resource in statement.resources)
        and all(_holds(operator, key, values, call) for operator, key, values in statement.conditions)
        for statement in statements
    )


def _conditions(statement: dict[str, Any]) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    return tuple(
        (operator, key, tuple(as_list(values)))
        for operator, keys in statement.get("Condition", {}).items()
        for key, values in keys.items()
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
            statements.append(
                Statement(tuple(as_list(statement["Action"])), resources, _conditions(statement))
            )
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
            Call(
                TRANSACTION_ITEM_ACTIONS[kind],
                table_arn(request["TableName"]),
                (_leading_key(request.get("Key") or request["Item"]),),
            )
            for item in params["TransactItems"]
            for kind, request in item.items()
        ]
    if operation == "BatchGetItem":
        return [
            Call(f"{prefix}:{operation}", table_arn(table), (_leading_key(key),), _projected(request))
            for table, request in params["RequestItems"].items()
            for key in request["Keys"]
        ]
    if operation == "BatchWriteItem":
        return [
            Call(f"{prefix}:{operation}", table_arn(table), (_leading_key(next(iter(write.values()))),))
            for table, writes in params["RequestItems"].items()
            for write in writes
        ]
    table = table_arn(params["TableName"])
    index = params.get("IndexName")
    resource = f"{table}/index/{index}" if index else table
    if operation == "Query":
        return [Call(f"{prefix}:{operation}", resource, (_queried_key(params),), _projected(params))]
    item = params.get("Key") or params["Item"]
    attributes = _projected(params) if operation == "GetItem" else None
    return [Call(f"{prefix}:{operation}", resource, (_leading_key(item),), attributes)]


def _leading_key(item: Mapping[str, Any]) -> str:
    """The item's partition key value by its prefix: "EXEC#<id>" stands for every execution."""
    value = str(next(iter(item["pk"].values())))
    kind, separator, _ = value.partition("#")
    return f"{kind}#<id>" if separator else value


def _queried_key(params: Mapping[str, Any]) -> str:
    """The partition key value a Query names: the first equality of its key condition."""
    name, value = params["KeyConditionExpression"].split(" AND ")[0].split("=")
    assert name.strip(), params
    return _leading_key({"pk": params["ExpressionAttributeValues"][value.strip()]})


def _projected(request: Mapping[str, Any]) -> frozenset[str] | None:
    """The top-level attributes a read projects; None when it takes the whole item."""
    projection = request.get("ProjectionExpression")
    if projection is None:
        return None
    names = request.get("ExpressionAttributeNames", {})
    paths = (part.strip().split(".")[0].split("[")[0] for part in projection.split(","))
    return frozenset(names.get(path, path) for path in paths)


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
