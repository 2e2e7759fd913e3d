"""The shapes flowport speaks: API bodies (camelCase on the wire) and the records it keeps."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

# Empty collections are defaults (`{}`, `[]`), which pydantic copies for each instance, not
# `default_factory=dict`: for a builtin factory pydantic reads its text signature, and the first such read
# compiles the tokenizer's patterns, several milliseconds of every function's init.


# An execution lists its reruns in its own item, which stops at 400 KB: the first of them, then no more.
MAX_RERUNS_NOTED = 20


class ExecutionStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        return self not in (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)


class DeliveryState(StrEnum):
    PENDING = "pending"  # being tried, or waiting for its next attempt
    DELIVERED = "delivered"
    FAILED = "failed"  # the last attempt of the schedule failed, or the address was refused at send time
    DISABLED = "disabled"  # the receiver answered 410 Gone


class ConflictStrategy(StrEnum):
    """What a keyed start does when its key was seen before (Conductor's `X-on-conflict`)."""

    RETURN_EXISTING = "RETURN_EXISTING"
    FAIL = "FAIL"
    FAIL_ON_RUNNING = "FAIL_ON_RUNNING"


class ExecutionSource(StrEnum):
    """How an execution was started."""

    HTTP_POST = "http-post"
    HTTP_GET = "http-get"


def absent_rather_than_null(schema: dict[str, Any]) -> None:
    """An API body leaves out a field that has no value (flowport.api.responses): it is never null. So an
    optional field's schema is its type alone, not `anyOf [type, null]`, and it has no default of null."""
    required = set(schema.get("required", ()))
    for name, field_schema in schema.get("properties", {}).items():
        variants = field_schema.get("anyOf")
        if name in required or not variants or {"type": "null"} not in variants:
            continue
        others = [variant for variant in variants if variant != {"type": "null"}]
        del field_schema["anyOf"]
        if len(others) == 1:
            field_schema.update(others[0])
        else:
            field_schema["anyOf"] = others
        if "default" in field_schema and field_schema["default"] is None:
            del field_schema["default"]


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        json_schema_extra=absent_rather_than_null,
    )


# The bodies of routes no function takes on its common path (the status function's history, search and
# workflows; the other functions never): their validators are built at their route's first use, not in
# every function's init (about 10 ms of each API function's cold start).
_BUILT_ON_FIRST_USE = ConfigDict(defer_build=True)


class ExecutionError(ApiModel):
    code: str = Field(description="Error name, as the workflow or Step Functions reported it")
    message: str = Field(description="Human-readable cause")
    node: str | None = Field(default=None, description="The state where it failed, when known")


class ProgressSnapshot(ApiModel):
    """How far an execution got (the counting rules are in flowport.core.progress)."""

    progress: int = Field(ge=0, le=100, description="0-100; 100 only when COMPLETED")
    current_node: str | None = Field(default=None, description="The state running now")
    completed_nodes: int = Field(ge=0, description="Distinct states of the definition that finished")
    total_nodes: int = Field(ge=0, description="States of the definition, nested ones included")
    retry_count: int = Field(ge=0, description="Task retries so far")


class ExecutionLinks(ApiModel):
    """Where to go next. Each link's name says what to do with it: `cancel` is DELETE, the others GET."""

    self_: str = Field(alias="self", description="GET: this execution's status")
    cancel: str = Field(description="DELETE: cancel the execution")


class ExecutionSummary(ApiModel):
    """What a start returns: enough to find the execution again."""

    execution_id: str
    workflow: str
    version: int
    status: ExecutionStatus
    correlation_id: str | None = None
    priority: int
    created_at: datetime
    started_by: str | None = Field(
        default=None, description="Id of the principal that started it (`anonymous` for a public start)"
    )
    links: ExecutionLinks


class ExecutionPage(ApiModel):
    """A page of GET /executions: newest first."""

    model_config = _BUILT_ON_FIRST_USE

    items: list[ExecutionSummary]
    next_token: str | None = Field(
        default=None,
        description="Present while more may follow (even after a short or empty page): pass it as nextToken "
        "with the same filters",
    )


class ExecutionDetail(ExecutionSummary):
    """What a status read returns."""

    input: dict[str, Any] | None = None
    output: Any | None = Field(default=None, description="The workflow's result, when COMPLETED")
    output_from_step_functions: bool | None = Field(
        default=None,
        description="True when the output was too large for DynamoDB and was read from Step Functions",
    )
    error: ExecutionError | None = Field(default=None, description="Why it ended, when FAILED or TIMED_OUT")
    status_variables: dict[str, Any] = Field(
        default={}, description="The workflow's declared status variables and their latest values"
    )
    started_at: datetime | None = None
    completed_at: datetime | None = None
    source: ExecutionSource
    progress: int | None = Field(default=None, description="0-100; 100 only when COMPLETED")
    current_node: str | None = Field(default=None, description="The state running now")
    completed_nodes: int | None = Field(default=None, description="Distinct states that finished")
    total_nodes: int | None = Field(default=None, description="States of the definition, nested included")
    retry_count: int | None = Field(default=None, description="Task retries so far")
    cleanup_after: datetime | None = Field(
        default=None, description="When the record of a finished execution will be deleted"
    )
    queued_at: datetime | None = Field(
        default=None, description="When it joined its workflow's queue (it found every slot taken)"
    )
    queue_position: int | None = Field(
        default=None,
        ge=1,
        description="While QUEUED in the workflow's queue: 1 runs next (highest priority, then oldest)",
    )
    redrive_count: int | None = Field(
        default=None, ge=1, description="How many times it was retried from where it failed (absent: never)"
    )
    rerun_of: str | None = Field(default=None, description="The execution this one reruns, if it is a rerun")
    reruns: list[str] | None = Field(
        default=None,
        description=f"The executions rerun from this one, oldest first (the first {MAX_RERUNS_NOTED}; "
        "absent: none)",
    )
    callback_delivery: DeliveryState | None = Field(
        default=None,
        description="When its callback could not be delivered: failed (its last attempt failed) or disabled "
        "(the receiver answered 410); GET .../deliveries has the attempts",
    )


class NodeStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"


class NodeEntry(ApiModel):
    """One run of one state of the workflow."""

    model_config = _BUILT_ON_FIRST_USE

    name: str = Field(description="The state's name in the definition")
    type: str = Field(description="The state's type: Task, Map, Parallel, Choice, Wait, Pass, Succeed, Fail")
    status: NodeStatus
    started_at: datetime | None = None
    ended_at: datetime | None = None
    attempts: int = Field(ge=0, description="Task attempts (1 + retries); 0 for states that are not tasks")
    error: ExecutionError | None = Field(default=None, description="Why its last attempt failed")
    input: Any | None = Field(default=None, description="The state's input, with include=io")
    input_truncated: bool | None = Field(default=None, description="True when the input was too large")
    output: Any | None = Field(default=None, description="The state's output, with include=io")
    output_truncated: bool | None = Field(default=None, description="True when the output was too large")


class ExecutionHistory(ApiModel):
    model_config = _BUILT_ON_FIRST_USE

    execution_id: str
    items: list[NodeEntry] = Field(description="State runs in the order they started")
    next_token: str | None = Field(default=None, description="Pass as nextToken for the next page")


class CancelResult(ApiModel):
    execution_id: str
    cancelled: bool
    previous_status: ExecutionStatus
    status: ExecutionStatus
    message: str


class FieldProblem(ApiModel):
    field: str = Field(
        description="JSON Pointer to the failing part of the input ('' for the whole input); for a missing "
        "required property, where it belongs"
    )
    message: str


class Problem(ApiModel):
    """RFC 9457 problem details, with flowport's stable `code`."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    code: str = Field(description="Stable machine-readable error code")
    instance: str | None = None
    execution_id: str | None = Field(default=None, description="The execution this problem is about")
    errors: list[FieldProblem] | None = Field(default=None, description="Each failing input field")
    cancelled: bool | None = Field(default=None, description="On a refused cancellation: false")
    execution_status: ExecutionStatus | None = Field(
        default=None, description="On a refused cancellation or retry: the execution's status"
    )


class StoredModel(BaseModel):
    """A record as kept in DynamoDB, with camelCase attribute names."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


# A callback allowlist's entry: a host name, or `*.` and a domain (any of its subdomains).
HostPattern = Annotated[
    str,
    StringConstraints(
        pattern=r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
    ),
]


class CallbackEvent(StrEnum):
    """What a start may ask to be called back for: its ends, its start in Step Functions, and its joining
    its workflow's queue (every slot taken)."""

    COMPLETED = "completed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    RUNNING = "running"
    QUEUED = "queued"

    @classmethod
    def of(cls, status: ExecutionStatus) -> CallbackEvent:
        return cls(status.value.lower())

    @property
    def type(self) -> str:
        """The payload's `type`: `execution.completed`, ..."""
        return f"execution.{self.value}"


TERMINAL_EVENTS = (
    CallbackEvent.COMPLETED,
    CallbackEvent.FAILED,
    CallbackEvent.TIMED_OUT,
    CallbackEvent.CANCELLED,
)


class Callback(StoredModel):
    """The callback an execution was started with, as its record keeps it."""

    url: str
    events: tuple[CallbackEvent, ...] = TERMINAL_EVENTS
    secret_owner: str = Field(description="The principal whose webhook secret signs the deliveries")
    links_base: str = Field(default="", description="The API's URL as the start reached it, for the links")
    failed: DeliveryState | None = Field(
        default=None, description="Set when a delivery failed for good (FAILED or DISABLED)"
    )

    def wants(self, status: ExecutionStatus) -> bool:
        return status.value.lower() in self.events


class DeliveryAttempt(ApiModel):
    at: datetime
    response_status: int | None = Field(default=None, description="Absent: no answer (timeout, refused)")
    latency_ms: int = Field(ge=0)
    error: str | None = Field(default=None, description="Why there was no answer, when there was none")


class DeliveryLog(StoredModel):
    """One webhook message of an execution and its attempts (never its body, never a secret)."""

    execution_id: str
    message_id: str
    type: str
    url: str
    state: DeliveryState
    attempt_count: int = 0
    attempts: list[DeliveryAttempt] = []
    next_attempt_at: datetime | None = None
    expires_at: int


class DeliveryView(ApiModel):
    model_config = _BUILT_ON_FIRST_USE

    message_id: str = Field(description="The webhook-id header of each of its attempts")
    type: str
    url: str = Field(description="The callback URL, without its query")
    state: DeliveryState
    attempts: list[DeliveryAttempt]
    next_attempt_at: datetime | None = None


class DeliveryList(ApiModel):
    model_config = _BUILT_ON_FIRST_USE

    execution_id: str
    items: list[DeliveryView]


class CallbackHosts(ApiModel):
    model_config = _BUILT_ON_FIRST_USE

    callback_hosts: list[HostPattern] = Field(
        max_length=50,
        description="The hosts this principal's callbacks may go to (`*.example.com`: its subdomains); "
        "empty: any public host",
    )


class IssuedWebhookSecret(ApiModel):
    model_config = _BUILT_ON_FIRST_USE

    principal_id: str
    secret: str = Field(description="whsec_...: shown this once. The one it replaces signs too for 24 h")


class ExecutionRecord(StoredModel):
    """One execution."""

    execution_id: str
    workflow: str
    version: int
    state_machine_arn: str
    status: ExecutionStatus
    correlation_id: str | None = None
    priority: int = 0
    input: dict[str, Any]
    source: ExecutionSource
    created_at: datetime
    started_by: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    output: Any | None = None
    error: ExecutionError | None = None
    status_variables: dict[str, Any] = {}
    idempotency_key_hash: str | None = None
    cancel_requested_at: datetime | None = None
    output_in_step_functions: bool = Field(
        default=False, description="The output was too large for the record; Step Functions keeps it"
    )
    progress: ProgressSnapshot | None = None
    expires_at: int = Field(description="Epoch seconds; DynamoDB's TTL deletes the record after it")
    queued_at: datetime | None = Field(default=None, description="When it joined its workflow's queue")
    queue_order: str | None = Field(
        default=None, description="Its place in the queue (flowport.core.admission), while it waits there"
    )
    dispatched_at: datetime | None = Field(
        default=None, description="When it left the queue with a slot, to be started in Step Functions"
    )
    redrive_count: int = Field(
        default=0, description="Its attempt: how many times Step Functions redrove it (flowport.core.retry)"
    )
    rerun_of: str | None = None
    reruns: list[str] = Field(
        default=[],
        description=f"The executions rerun from this one, oldest first (the first {MAX_RERUNS_NOTED})",
    )
    callback: Callback | None = Field(default=None, description="Where its end is sent (a webhook)")

    @property
    def execution_arn(self) -> str:
        return execution_arn(self.state_machine_arn, self.execution_id)

    @property
    def waiting(self) -> bool:
        """Whether it waits in its workflow's queue for a slot (not started, not about to be)."""
        return self.queue_order is not None


class IdempotencyKeyRecord(StoredModel):
    """An idempotency key, pointing at the execution its current generation started."""

    key_hash: str
    generation: int
    fingerprint: str
    execution_id: str
    workflow: str
    version: int
    state_machine_arn: str
    correlation_id: str | None = None
    priority: int = 0
    created_at: datetime
    started_by: str | None = None
    status: ExecutionStatus = Field(description="Last status known to DynamoDB; QUEUED until confirmed")
    lease_until: float = Field(description="Epoch seconds until which the request that wrote it may start it")
    expires_at: int

    @property
    def execution_arn(self) -> str:
        return execution_arn(self.state_machine_arn, self.execution_id)


def execution_arn(state_machine_arn: str, execution_name: str) -> str:
    """Step Functions names an execution `arn:...:execution:<state machine name>:<execution name>`."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{execution_name}"


class NodeEvent(StoredModel):
    """A fact of the history an event stream sends once: a state entered, exited, or an attempt failed."""

    id: int = Field(description="The Step Functions history event it comes from")
    kind: Literal["node_started", "node_completed", "node_failed"]
    name: str
    type: str
    at: datetime | None = None
    error: ExecutionError | None = None


class LiveView(StoredModel):
    """What Step Functions last said of a running execution, as one read of its history saw it: shared by
    every status read and event stream of that execution for a moment (flowport.core.live)."""

    observed_at: float = Field(description="Epoch seconds of the history read")
    status: ExecutionStatus
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    error: ExecutionError | None = None
    progress: ProgressSnapshot = Field(
        description="Counted from the history, before the workflow's own figure"
    )
    node_events: list[NodeEvent] = []
    events_from: int = Field(
        default=0, description="node_events holds every node event of the history from this event id on"
    )
    last_event_id: int = 0
    final: bool = Field(default=False, description="The history has ended: this view never goes stale")
    redrive_count: int = Field(
        default=0, description="The attempt its history read saw; a view of an earlier attempt is stale"
    )


class WorkflowLinks(ApiModel):
    """Where to go next. Each link's name says what to do with it: `start` is POST, the others GET."""

    model_config = _BUILT_ON_FIRST_USE

    self_: str = Field(alias="self", description="GET: this workflow's settings")
    start: str = Field(
        description="POST: start an execution with the body as input (the latest version, or `?version=`)"
    )
    executions: str = Field(description="GET: this workflow's executions, newest first (the search)")


class WorkflowView(ApiModel):
    """A workflow's public settings, as the registry holds them (disabled workflows included)."""

    model_config = _BUILT_ON_FIRST_USE

    name: str
    description: str
    enabled: bool = Field(description="False: the workflow exists but starts are refused with 403")
    versions: list[int] = Field(description="Deployed versions, ascending")
    latest_version: int = Field(description="The version a start without `version` runs")
    status_variables: list[str] = Field(description="Variables reported in an execution's statusVariables")
    content_variable: str | None = Field(
        default=None,
        description="When set, the request body is taken as text and passed as this input variable",
    )
    input_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema every start's input must satisfy"
    )
    retention_hours: int = Field(description="How long a finished execution's record is kept")
    start_by_get: bool = Field(description="Whether GET /workflows/{name}/start may start it")
    searchable_input_fields: list[str] = Field(
        description="Input fields that GET /executions?workflow=<name>&input.<field>=<value> searches"
    )
    auth: list[str] = Field(description='How its start authenticates: "apiKey", "basic", or "none" (public)')
    max_concurrency: int | None = Field(
        default=None, description="Most executions (all versions) running at once; absent: no limit"
    )
    max_queue_seconds: int = Field(
        description="Longest a start waits in the queue for a slot before it fails with queue_timeout"
    )
    links: WorkflowLinks


class WorkflowLoad(WorkflowView):
    """One workflow's settings, with how many of its executions run and wait now."""

    model_config = _BUILT_ON_FIRST_USE

    running: int = Field(ge=0, description="Executions holding a slot: running, or being started")
    queued: int = Field(ge=0, description="Executions waiting in its queue for a slot")


class WorkflowList(ApiModel):
    model_config = _BUILT_ON_FIRST_USE

    workflows: list[WorkflowView] = Field(description="Every workflow, sorted by name")


class GraphNode(ApiModel):
    """One state of a workflow's definition, nested states included."""

    model_config = _BUILT_ON_FIRST_USE

    name: str = Field(description="The state's name, unique in its definition")
    type: str = Field(description="Task, Choice, Parallel, Map, Wait, Pass, Succeed or Fail")
    parent: str | None = Field(default=None, description="The Map or Parallel state it runs inside")
    branch: int | None = Field(default=None, description="Which of its Parallel parent's branches, from 0")
    start: bool = Field(description="Whether its (sub-)machine starts with it")
    end: bool = Field(description="Whether its (sub-)machine can end with it")
    retries: bool = Field(description="Whether it retries failed attempts (a Retry)")
    resource: str | None = Field(
        default=None, description="What a Task calls, as `service:action` (no ARNs, no parameters)"
    )
    comment: str | None = Field(default=None, description="The definition's comment on it")


class GraphEdge(ApiModel):
    model_config = _BUILT_ON_FIRST_USE

    from_: str = Field(alias="from", description="The state the transition leaves")
    to: str = Field(description="The state it enters")
    kind: Literal["next", "choice", "default", "catch"] = Field(
        description="next: Next; choice: a Choice rule; default: a Choice's Default; catch: a Catch"
    )
    label: str | None = Field(default=None, description="A choice rule in short, or the errors a catch takes")


class WorkflowGraph(ApiModel):
    """A workflow version's definition as a graph: its states and their transitions."""

    model_config = _BUILT_ON_FIRST_USE

    workflow: str
    version: int
    start_at: str = Field(description="The state the execution starts in")
    nodes: list[GraphNode] = Field(description="Every state, outer before inner, in definition order")
    edges: list[GraphEdge] = Field(description="Every transition, inside Maps and Parallels too")
