"""Reads the SAM template: the one description of the app that the local server and the tests also use.

CloudFormation's intrinsic functions are resolved against a local stack (name, account, region) whose
resources get the names and ARNs moto will give them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from moto.cloudformation.utils import yaml_tag_constructor

LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"
LOCAL_STACK = "flowport-local"


RULE_EVENT_TYPES = ("EventBridgeRule", "CloudWatchEvent")
QUEUE_EVENT_TYPE = "SQS"
QUEUE_TYPE = "AWS::SQS::Queue"
# SAM's default BatchSize of an SQS event.
DEFAULT_BATCH_SIZE = 10
SCHEDULE_EVENT_TYPES = ("ScheduleV2", "Schedule")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_RATE_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
API_TYPE = "AWS::Serverless::Api"
NO_AUTHORIZER = "NONE"  # an Api event's `Auth: {Authorizer: NONE}`: the route takes no credentials
# SAM's default for a Lambda authorizer's Identity.ReauthorizeEvery: API Gateway caches its answers 300 s.
DEFAULT_REAUTHORIZE_SECONDS = 300
# The parts of SAM's Auth the local gateway reproduces; anything else it names as a gap at start.
_REPRODUCED_API_AUTH = {"DefaultAuthorizer", "Authorizers", "AddDefaultAuthorizerToCorsPreflight"}
_REPRODUCED_AUTHORIZER = {"FunctionArn", "FunctionPayloadType", "Identity"}
_REPRODUCED_IDENTITY = {"Headers", "ReauthorizeEvery"}


class TemplateError(Exception):
    """The template uses something local mode cannot reproduce."""


class _CloudFormationLoader(yaml.SafeLoader):
    pass


_CloudFormationLoader.add_multi_constructor("", yaml_tag_constructor)  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class ApiRoute:
    method: str  # upper case
    path: str  # API Gateway style: /executions/{executionId}


@dataclass(frozen=True)
class EventRule:
    name: str  # "<function>.<event>"
    pattern: dict[str, Any]


@dataclass(frozen=True)
class QueueEventSpec:
    """An SQS event source of a function: the queue it polls and how many messages an invocation takes."""

    name: str  # "<function>.<event>"
    queue_arn: str
    batch_size: int


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    url: str
    arn: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class ScheduleSpec:
    name: str  # "<function>.<event>"
    every_seconds: int


def rate_seconds(expression: str) -> int:
    """The interval of a `rate(...)` schedule expression; TemplateError for any other (cron, at)."""
    match = _RATE.match(expression.strip())
    if match is None:
        raise TemplateError(f"local mode runs rate(N unit) schedules only, not {expression!r}")
    return int(match.group(1)) * _RATE_UNIT_SECONDS[match.group(2).rstrip("s")]


@dataclass(frozen=True)
class AuthorizerSpec:
    """A Lambda REQUEST authorizer of an API: the function it runs and what its answers are cached by."""

    name: str
    function_arn: str
    identity_headers: tuple[str, ...]  # lower case
    reauthorize_seconds: int


@dataclass(frozen=True)
class GatewayResponse:
    """One of an API's GatewayResponses: status (None: the type's own), static headers, body template."""

    status: int | None
    headers: dict[str, str]
    template: str | None


@dataclass(frozen=True)
class ApiSpec:
    logical_id: str
    default_authorizer: str | None
    authorizers: dict[str, AuthorizerSpec]
    gateway_responses: dict[str, GatewayResponse]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    code_uri: Path
    handler: str  # module.function
    environment: dict[str, str]
    timeout: int
    memory: int
    routes: tuple[ApiRoute, ...]
    rules: tuple[EventRule, ...] = ()
    schedules: tuple[ScheduleSpec, ...] = ()
    queues: tuple[QueueEventSpec, ...] = ()

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{self.name}"


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    name: str
    arn: str
    definition: str  # ASL with DefinitionSubstitutions applied
    definition_uri: Path


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    name: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class LayerSpec:
    logical_id: str
    content_uri: Path


@dataclass
class Stack:
    root: Path
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    state_machines: dict[str, StateMachineSpec] = field(default_factory=dict)
    tables: dict[str, TableSpec] = field(default_factory=dict)
    layers: dict[str, LayerSpec] = field(default_factory=dict)
    queues: dict[str, QueueSpec] = field(default_factory=dict)
    other_resources: dict[str, str] = field(default_factory=dict)  # logical id -> type
    other_events: dict[str, str] = field(default_factory=dict)  # "<function>.<event>" -> event type
    apis: dict[str, ApiSpec] = field(default_factory=dict)
    # Each route's authorizer; absent: none (an API without Auth, or `Authorizer: NONE`).
    route_authorizers: dict[ApiRoute, AuthorizerSpec] = field(default_factory=dict)
    auth_gaps: list[str] = field(default_factory=list)  # Auth settings the local gateway does not reproduce

    @property
    def routes(self) -> dict[ApiRoute, FunctionSpec]:
        return {route: spec for spec in self.functions.values() for route in spec.routes}


def load_template(path: Path) -> dict[str, Any]:
    document = yaml.load(path.read_text(encoding="utf-8"), Loader=_CloudFormationLoader)
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} is not a CloudFormation template")
    return document


class _Resolver:
    """Evaluates intrinsic functions for a local stack."""

    def __init__(self, template: dict[str, Any], stack_name: str) -> None:
        self._resources: dict[str, Any] = template["Resources"]
        self._pseudo = {
            "AWS::StackName": stack_name,
            "AWS::Region": LOCAL_REGION,
            "AWS::AccountId": LOCAL_ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }
        self._parameters = {
            name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()
        }
        self._stack_name = stack_name

    def physical_name(self, logical_id: str) -> str:
        properties = self._resources[logical_id].get("Properties", {})
        for name_property in ("Name", "FunctionName", "TableName", "StateMachineName", "LayerName"):
            if name_property in properties:
                return str(self.resolve(properties[name_property]))
        return f"{self._stack_name}-{logical_id}"

    def ref(self, name: str) -> str:
        if name in self._pseudo:
            return str(self._pseudo[name])
        if name in self._parameters:
            return self._parameters[name]
        resource_type = self._resources.get(name, {}).get("Type")
        if resource_type is None:
            raise TemplateError(f"!Ref {name}: no such parameter or resource")
        if resource_type == "AWS::Serverless::StateMachine":
            return self.get_att(name, "Arn")
        if resource_type == "AWS::Serverless::LayerVersion":
            return f"arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:layer:{self.physical_name(name)}:1"
        if resource_type == QUEUE_TYPE:  # a queue's Ref is its URL
            return f"https://sqs.{LOCAL_REGION}.amazonaws.com/{LOCAL_ACCOUNT}/{self.physical_name(name)}"
        return self.physical_name(name)

    def get_att(self, name: str, attribute: str) -> str:
        resource_type = self._resources.get(name, {}).get("Type")
        physical = self.physical_name(name)
        where = f"{LOCAL_REGION}:{LOCAL_ACCOUNT}"
        arns = {
            "AWS::Serverless::Function": f"arn:aws:lambda:{where}:function:{physical}",
            "AWS::Serverless::StateMachine": f"arn:aws:states:{where}:stateMachine:{physical}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{where}:table/{physical}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{where}:log-group:{physical}:*",
            "AWS::SQS::Queue": f"arn:aws:sqs:{where}:{physical}",
        }
        if attribute == "Arn" and resource_type in arns:
            return arns[resource_type]
        if attribute == "Name":
            return physical
        raise TemplateError(f"!GetAtt {name}.{attribute} is not available in local mode")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                name, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(name, attribute)
            if function == "Fn::Sub":
                return self._sub(argument)
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(str(item) for item in self.resolve(items))
            if function.startswith("Fn::"):
                raise TemplateError(f"{function} is not supported in local mode")
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub(self, argument: str | list[Any]) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        resolved_variables = {name: self.resolve(item) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved_variables:
                return str(resolved_variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


def build_stack(template_path: Path, stack_name: str = LOCAL_STACK) -> Stack:
    template = load_template(template_path)
    root = template_path.parent
    resolver = _Resolver(template, stack_name)
    function_globals = template.get("Globals", {}).get("Function", {})
    stack = Stack(root=root)
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        resource_type = resource["Type"]
        if resource_type == API_TYPE:
            stack.apis[logical_id] = _api(logical_id, properties, resolver, stack.auth_gaps)
        if resource_type == "AWS::Serverless::Function":
            stack.functions[logical_id] = _function(logical_id, properties, function_globals, resolver, root)
        elif resource_type == "AWS::Serverless::StateMachine":
            stack.state_machines[logical_id] = _state_machine(logical_id, properties, resolver, root)
        elif resource_type == "AWS::DynamoDB::Table":
            stack.tables[logical_id] = TableSpec(
                logical_id, resolver.physical_name(logical_id), resolver.resolve(properties)
            )
        elif resource_type == "AWS::Serverless::LayerVersion":
            stack.layers[logical_id] = LayerSpec(logical_id, (root / properties["ContentUri"]).resolve())
        elif resource_type == QUEUE_TYPE:
            stack.queues[logical_id] = QueueSpec(
                logical_id,
                resolver.physical_name(logical_id),
                resolver.ref(logical_id),
                resolver.get_att(logical_id, "Arn"),
                resolver.resolve(properties),
            )
        else:
            stack.other_resources[logical_id] = resource_type
        for event_name, event in properties.get("Events", {}).items():
            if event.get("Type") not in ("Api", QUEUE_EVENT_TYPE, *RULE_EVENT_TYPES, *SCHEDULE_EVENT_TYPES):
                stack.other_events[f"{logical_id}.{event_name}"] = str(event.get("Type"))
    for logical_id, resource in template["Resources"].items():
        for event_name, event in resource.get("Properties", {}).get("Events", {}).items():
            if event.get("Type") == "Api":
                _route_auth(stack, f"{logical_id}.{event_name}", event["Properties"])
    return stack


def _api(logical_id: str, properties: dict[str, Any], resolver: _Resolver, gaps: list[str]) -> ApiSpec:
    auth = properties.get("Auth", {})
    gaps += [f"{logical_id} Auth.{name}" for name in auth if name not in _REPRODUCED_API_AUTH]
    authorizers: dict[str, AuthorizerSpec] = {}
    for name, settings in auth.get("Authorizers", {}).items():
        where = f"{logical_id} authorizer {name}"
        if "FunctionArn" not in settings or settings.get("FunctionPayloadType") != "REQUEST":
            gaps.append(f"{where} (only Lambda REQUEST authorizers are reproduced)")
            continue
        identity = settings.get("Identity", {})
        gaps += [f"{where} {key}" for key in settings if key not in _REPRODUCED_AUTHORIZER]
        gaps += [f"{where} Identity.{key}" for key in identity if key not in _REPRODUCED_IDENTITY]
        authorizers[name] = AuthorizerSpec(
            name=name,
            function_arn=str(resolver.resolve(settings["FunctionArn"])),
            identity_headers=tuple(str(header).lower() for header in identity.get("Headers", [])),
            reauthorize_seconds=int(identity.get("ReauthorizeEvery", DEFAULT_REAUTHORIZE_SECONDS)),
        )
    responses = {
        kind: GatewayResponse(
            status=int(entry["StatusCode"]) if "StatusCode" in entry else None,
            headers={
                name: str(value)[1:-1]  # static values are quoted: "'application/problem+json'"
                for name, value in entry.get("ResponseParameters", {}).get("Headers", {}).items()
                if str(value).startswith("'") and str(value).endswith("'")
            },
            template=entry.get("ResponseTemplates", {}).get("application/json"),
        )
        for kind, entry in properties.get("GatewayResponses", {}).items()
    }
    gaps += [
        f"{logical_id} GatewayResponses.{kind} header {name} (only static values are reproduced)"
        for kind, entry in properties.get("GatewayResponses", {}).items()
        for name, value in entry.get("ResponseParameters", {}).get("Headers", {}).items()
        if name not in responses[kind].headers
    ]
    return ApiSpec(logical_id, auth.get("DefaultAuthorizer"), authorizers, responses)


def _route_auth(stack: Stack, event_name: str, properties: dict[str, Any]) -> None:
    """The authorizer of one Api event's route: its own `Auth.Authorizer`, else its API's default."""
    api_id = (
        properties.get("RestApiId", {}).get("Ref") if isinstance(properties.get("RestApiId"), dict) else None
    )
    api = stack.apis.get(api_id or "")
    if api is None:
        return
    auth = properties.get("Auth", {})
    name = auth.get("Authorizer", api.default_authorizer)
    stack.auth_gaps.extend(f"event {event_name} Auth.{key}" for key in auth if key != "Authorizer")
    if name not in (None, NO_AUTHORIZER) and name not in api.authorizers:
        stack.auth_gaps.append(
            f"event {event_name} Auth.Authorizer {name} (the route is served unauthenticated)"
        )
    route = ApiRoute(method=str(properties["Method"]).upper(), path=str(properties["Path"]))
    if name in api.authorizers:
        stack.route_authorizers[route] = api.authorizers[name]


def _function(
    logical_id: str, properties: dict[str, Any], defaults: dict[str, Any], resolver: _Resolver, root: Path
) -> FunctionSpec:
    merged = {**defaults, **properties}
    variables = {
        **defaults.get("Environment", {}).get("Variables", {}),
        **properties.get("Environment", {}).get("Variables", {}),
    }
    routes = tuple(
        ApiRoute(method=str(event["Properties"]["Method"]).upper(), path=str(event["Properties"]["Path"]))
        for event in properties.get("Events", {}).values()
        if event.get("Type") == "Api"
    )
    rules = tuple(
        EventRule(f"{logical_id}.{name}", resolver.resolve(event["Properties"]["Pattern"]))
        for name, event in properties.get("Events", {}).items()
        if event.get("Type") in RULE_EVENT_TYPES
    )
    schedules = tuple(
        ScheduleSpec(f"{logical_id}.{name}", rate_seconds(str(event["Properties"][_schedule_key(event)])))
        for name, event in properties.get("Events", {}).items()
        if event.get("Type") in SCHEDULE_EVENT_TYPES
    )
    queues = tuple(
        QueueEventSpec(
            f"{logical_id}.{name}",
            str(resolver.resolve(event["Properties"]["Queue"])),
            int(event["Properties"].get("BatchSize", DEFAULT_BATCH_SIZE)),
        )
        for name, event in properties.get("Events", {}).items()
        if event.get("Type") == QUEUE_EVENT_TYPE
    )
    return FunctionSpec(
        logical_id=logical_id,
        name=resolver.physical_name(logical_id),
        code_uri=(root / merged["CodeUri"]).resolve(),
        handler=merged["Handler"],
        environment={name: str(resolver.resolve(value)) for name, value in variables.items()},
        timeout=int(merged.get("Timeout", 3)),
        memory=int(merged.get("MemorySize", 128)),
        routes=routes,
        rules=rules,
        schedules=schedules,
        queues=queues,
    )


def _schedule_key(event: dict[str, Any]) -> str:
    # SAM's ScheduleV2 (EventBridge Scheduler) names it ScheduleExpression; Schedule (a rule), Schedule.
    return "ScheduleExpression" if event["Type"] == "ScheduleV2" else "Schedule"


def _state_machine(
    logical_id: str, properties: dict[str, Any], resolver: _Resolver, root: Path
) -> StateMachineSpec:
    if "DefinitionUri" not in properties:
        raise TemplateError(f"{logical_id}: local mode reads state machines from DefinitionUri files")
    definition_uri = (root / properties["DefinitionUri"]).resolve()
    substitutions = {
        name: str(resolver.resolve(value))
        for name, value in properties.get("DefinitionSubstitutions", {}).items()
    }
    definition = re.sub(
        r"\$\{(\w+)\}",
        lambda match: substitutions.get(match.group(1), match.group(0)),
        definition_uri.read_text(encoding="utf-8"),
    )
    return StateMachineSpec(
        logical_id=logical_id,
        name=resolver.physical_name(logical_id),
        arn=resolver.get_att(logical_id, "Arn"),
        definition=definition,
        definition_uri=definition_uri,
    )
