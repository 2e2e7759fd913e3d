"""Deploys the template's stack into an embedded moto, in this process.

Tables, Lambda functions and state machines are created as the template declares them. Lambda code runs
in-process through `lambda_seam`; Step Functions really executes the state machines.
"""

from __future__ import annotations

import functools
import io
import json
import os
import zipfile
from collections.abc import Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
from moto import mock_aws
from moto.core.config import DefaultConfig

from flowport import services
from flowport.local import eventbridge, lambda_seam, moto_fixes, queues, redrive, scheduler
from flowport.local.template import LOCAL_REGION, FunctionSpec, QueueSpec, Stack, TableSpec

if TYPE_CHECKING:
    from mypy_boto3_sqs.literals import QueueAttributeNameType

# Executing state machines is off by default in moto; local mode is pointless without it.
MOTO_CONFIG: DefaultConfig = {"stepfunctions": {"execute_state_machine": True}}
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": LOCAL_REGION,
    "AWS_REGION": LOCAL_REGION,
}
_TABLE_PROPERTIES = ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")
WORKFLOWS_PATH_VARIABLE = "FLOWPORT_WORKFLOWS_PATH"
# Settings every function has locally and never on AWS: callbacks may go to http://127.0.0.1, where a
# developer's receiver listens (`flowport dev` says so at start).
LOCAL_SETTINGS = {"FLOWPORT_WEBHOOK_ALLOW_LOCAL_HTTP": "true"}
# The queue attributes local mode gives moto's queues (the others change nothing a function can see).
_QUEUE_ATTRIBUTES: tuple[QueueAttributeNameType, ...] = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
)


# Resources local mode leaves out on purpose, and why that changes nothing a client can see.
NOT_NEEDED_LOCALLY = {
    "AWS::Logs::LogGroup": "function logs go to the server's output",
    "AWS::IAM::ManagedPolicy": "IAM is not enforced locally",
    "AWS::Serverless::Api": "the local gateway serves the functions' Api events, runs their Lambda "
    "authorizers and renders the GatewayResponses",
}


def local_gaps(stack: Stack) -> list[str]:
    """What the template declares that local mode does not reproduce: said at start, not found later."""
    gaps = [
        f"{logical_id} ({resource_type}) is not emulated locally"
        for logical_id, resource_type in stack.other_resources.items()
        if resource_type not in NOT_NEEDED_LOCALLY
    ]
    gaps += [
        f"event {name} ({event_type}) is not emulated locally"
        for name, event_type in stack.other_events.items()
    ]
    gaps += [f"{setting} is not reproduced by the local gateway" for setting in stack.auth_gaps]
    return gaps


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "# code runs in-process through flowport.local.lambda_seam\n")
    return buffer.getvalue()


def workflows_layer(stack: Stack) -> Path:
    """The layer that ships the state machine definitions: in Lambda, FLOWPORT_WORKFLOWS_PATH points at it."""
    definitions = [machine.definition_uri for machine in stack.state_machines.values()]
    for layer in stack.layers.values():
        if definitions and all(layer.content_uri in path.parents for path in definitions):
            return layer.content_uri
    raise LookupError("No layer of the template contains every state machine definition")


def environment(stack: Stack) -> dict[str, str]:
    """The functions' environment variables as one, for handlers that run in this process."""
    variables: dict[str, str] = {}
    for spec in stack.functions.values():
        variables.update(spec.environment)
    return variables | _layer_variables(stack) | LOCAL_SETTINGS


def container_environment(stack: Stack, spec: FunctionSpec, aws_endpoint: str) -> dict[str, str]:
    """What Lambda gives one function's containers: its own variables from the template and Lambda's, with
    the local credentials and AWS endpoint; nothing else of this process's environment but PATH."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",  # each log line reaches the server as it is written
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": aws_endpoint,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "LAMBDA_TASK_ROOT": str(spec.code_uri),
        **spec.environment,
        **_layer_variables(stack),
        **LOCAL_SETTINGS,
    }


def _layer_variables(stack: Stack) -> dict[str, str]:
    return {WORKFLOWS_PATH_VARIABLE: str(workflows_layer(stack))} if stack.state_machines else {}


class LocalCloud:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.events: eventbridge.LocalEventBus | None = None
        self.schedules: scheduler.LocalScheduler | None = None
        self.queue_pollers: queues.LocalQueuePollers | None = None

    def deploy(self, environ: MutableMapping[str, str] = os.environ) -> None:
        """Create every resource in the active moto mock and point this process's handlers at them."""
        environ.update(FAKE_CREDENTIALS)
        environ.update(environment(self.stack))
        services.reset()
        moto_fixes.apply()
        redrive.install()
        for table in self.stack.tables.values():
            self._create_table(table)
        # SyncFailedEventsQueue too, though it stays empty: locally an event delivery that failed is logged.
        self._create_queues(list(self.stack.queues.values()))
        role = self._create_role()
        self._create_functions(role)
        self._create_state_machines(role)
        self.events = eventbridge.LocalEventBus(self.stack)
        eventbridge.connect(self.events)
        self.schedules = scheduler.LocalScheduler(self.stack)
        self.queue_pollers = queues.LocalQueuePollers(self.stack)

    def close(self) -> None:
        """Stop the schedules, deliver pending events and disconnect, while the embedded moto still runs."""
        if self.schedules is not None:
            self.schedules.close()
        if self.queue_pollers is not None:
            self.queue_pollers.close()
        eventbridge.connect(None)
        if self.events is not None:
            self.events.close()

    @staticmethod
    def _create_table(table: TableSpec) -> None:
        client = boto3.client("dynamodb", region_name=LOCAL_REGION)
        arguments = {name: table.properties[name] for name in _TABLE_PROPERTIES if name in table.properties}
        client.create_table(TableName=table.name, BillingMode="PAY_PER_REQUEST", **arguments)
        ttl = table.properties.get("TimeToLiveSpecification")
        if ttl:
            client.update_time_to_live(TableName=table.name, TimeToLiveSpecification=ttl)

    @staticmethod
    def _create_queues(specs: Iterable[QueueSpec]) -> None:
        """Every queue, then their redrive policies: a policy names a queue that must exist."""
        client = boto3.client("sqs", region_name=LOCAL_REGION)
        urls = {}
        for queue in specs:
            attributes: dict[QueueAttributeNameType, str] = {
                name: str(queue.properties[name]) for name in _QUEUE_ATTRIBUTES if name in queue.properties
            }
            urls[queue.logical_id] = client.create_queue(QueueName=queue.name, Attributes=attributes)[
                "QueueUrl"
            ]
        for queue in specs:
            if "RedrivePolicy" in queue.properties:
                policy = json.dumps(queue.properties["RedrivePolicy"])
                client.set_queue_attributes(
                    QueueUrl=urls[queue.logical_id], Attributes={"RedrivePolicy": policy}
                )

    @staticmethod
    def _create_role() -> str:
        iam = boto3.client("iam", region_name=LOCAL_REGION)
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName="flowport-local", AssumeRolePolicyDocument=json.dumps(trust))
        return str(role["Role"]["Arn"])

    def _create_functions(self, role: str) -> None:
        client = boto3.client("lambda", region_name=LOCAL_REGION)
        code = _dummy_zip()
        for spec in self.stack.functions.values():
            client.create_function(
                FunctionName=spec.name,
                Runtime="python3.11",
                Role=role,
                Handler=spec.handler,
                Code={"ZipFile": code},
                Timeout=spec.timeout,
                MemorySize=spec.memory,
            )
        lambda_seam.register({spec.name: spec for spec in self.stack.functions.values()})

    def _create_state_machines(self, role: str) -> None:
        client = boto3.client("stepfunctions", region_name=LOCAL_REGION)
        for machine in self.stack.state_machines.values():
            client.create_state_machine(name=machine.name, definition=machine.definition, roleArn=role)


@functools.cache
def _process_session() -> boto3.Session:
    return boto3.Session()


@contextmanager
def running(stack: Stack) -> Iterator[LocalCloud]:
    """An embedded moto with the stack deployed, for as long as the block runs."""
    with mock_aws(config=MOTO_CONFIG):
        # moto starts each mock without a default session, so every client would load its service model
        # again (about 0.1 s per service); one session per process keeps the models loaded. The local
        # credentials and region are the same for every stack.
        boto3.DEFAULT_SESSION = _process_session()
        cloud = LocalCloud(stack)
        cloud.deploy()
        try:
            yield cloud
        finally:
            cloud.close()
