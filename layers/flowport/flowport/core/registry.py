"""The workflow registry: one folder per workflow under `statemachines/`, settings in `workflow.json`.

The folder name is the workflow's URL name; version N's definition is `vN.asl.json` beside it, deployed as
the state machine `<stack>-<workflow>-vN` (template.yaml). Lambda functions read the same folders from the
WorkflowsLayer, so the settings exist once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from flowport.core.errors import VersionNotFound, WorkflowDisabled, WorkflowNotFound
from flowport.core.identity import Action, AuthMode, Caller
from flowport.core.models import TERMINAL_EVENTS, CallbackEvent, HostPattern

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

SETTINGS_FILE = "workflow.json"
WorkflowName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
VariableName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
# Each searchable field costs an item and an index entry per execution (flowport.core.search).
MAX_SEARCHABLE_INPUT_FIELDS = 5
# Every holder of a slot is an attribute of one DynamoDB item (flowport.aws.slots), which stops at 400 KB.
MAX_CONCURRENCY = 5000
# A result within 24 hours, as Tencent ADP promises for queued asynchronous calls; a week at most.
DEFAULT_MAX_QUEUE_SECONDS = 24 * 3600
MAX_QUEUE_SECONDS = 7 * 24 * 3600


class DefaultCallback(BaseModel):
    """A workflow's callback for starts that name none (checked as a start's own, at each start)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str = Field(min_length=1)
    events: tuple[CallbackEvent, ...] = Field(default=TERMINAL_EVENTS, min_length=1)


class Workflow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=None)

    name: WorkflowName
    description: str = ""
    enabled: bool = True
    versions: tuple[int, ...] = Field(min_length=1, description="Deployed versions; the highest is latest")
    status_variables: tuple[VariableName, ...] = Field(default=(), alias="statusVariables")
    content_variable: VariableName | None = Field(default=None, alias="contentVariable")
    input_schema: dict[str, Any] | None = Field(default=None, alias="inputSchema")
    retention_hours: int = Field(default=24, gt=0, le=24 * 365, alias="retentionHours")
    start_by_get: bool = Field(default=False, alias="startByGet")
    searchable_input_fields: tuple[VariableName, ...] = Field(
        default=(), max_length=MAX_SEARCHABLE_INPUT_FIELDS, alias="searchableInputFields"
    )
    max_concurrency: int | None = Field(
        default=None,
        ge=1,
        le=MAX_CONCURRENCY,
        alias="maxConcurrency",
        description="Most executions of it (all versions) running at once; more wait in its queue",
    )
    max_queue_seconds: int = Field(
        default=DEFAULT_MAX_QUEUE_SECONDS,
        gt=0,
        le=MAX_QUEUE_SECONDS,
        alias="maxQueueSeconds",
        description="Longest a start waits in the queue; then it fails with queue_timeout",
    )
    callback: DefaultCallback | None = Field(
        default=None, description="The callback of every start that names none (flowport.core.webhooks)"
    )
    callback_hosts: tuple[HostPattern, ...] = Field(
        default=(),
        alias="callbackHosts",
        description="When set, callbacks may only go to these hosts (`*.example.com`: its subdomains)",
    )
    auth: tuple[AuthMode, ...] = Field(
        default=(AuthMode.API_KEY,),
        min_length=1,
        description='How a start must authenticate: "apiKey", "basic", both, or "none" (a public start)',
    )

    @field_validator("auth", mode="before")
    @classmethod
    def _modes(cls, auth: object) -> object:
        # "none" alone is the one mode given as a string; the others are a list.
        return (auth,) if isinstance(auth, str) else auth

    @field_validator("auth")
    @classmethod
    def _none_alone(cls, auth: tuple[AuthMode, ...]) -> tuple[AuthMode, ...]:
        if AuthMode.NONE in auth and len(auth) > 1:
            raise ValueError('auth "none" needs no other mode: a public start takes any caller')
        return tuple(sorted(set(auth)))

    @property
    def public(self) -> bool:
        return AuthMode.NONE in self.auth

    @field_validator("versions")
    @classmethod
    def _positive_unique(cls, versions: tuple[int, ...]) -> tuple[int, ...]:
        if any(v < 1 for v in versions) or len(set(versions)) != len(versions):
            raise ValueError("versions must be distinct positive integers")
        return tuple(sorted(versions))

    @field_validator("input_schema")
    @classmethod
    def _valid_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is not None:
            from jsonschema.validators import validator_for

            validator_for(schema).check_schema(schema)
        return schema

    @model_validator(mode="after")
    def _searchable_fields_exist(self) -> Workflow:
        if len(set(self.searchable_input_fields)) != len(self.searchable_input_fields):
            raise ValueError("searchableInputFields must be distinct")
        # When the schema lists its properties, a searchable field it does not list is most likely a typo.
        declared = (self.input_schema or {}).get("properties")
        if isinstance(declared, dict):
            unknown = [name for name in self.searchable_input_fields if name not in declared]
            if unknown:
                raise ValueError(f"searchableInputFields not in the input schema's properties: {unknown}")
        return self

    @model_validator(mode="after")
    def _content_variable_fits_the_schema(self) -> Workflow:
        # With a content variable the input is {<variable>: <body text>} and nothing else: a schema that
        # requires another field, or does not list the variable among properties it closes, refuses
        # every start.
        if self.content_variable is None or self.input_schema is None:
            return self
        required = set(self.input_schema.get("required", ()))
        if required - {self.content_variable}:
            raise ValueError(
                f"inputSchema requires {sorted(required - {self.content_variable})}, but the input of a "
                f"workflow with contentVariable holds '{self.content_variable}' alone"
            )
        properties = self.input_schema.get("properties")
        closed = self.input_schema.get("additionalProperties") is False
        if closed and isinstance(properties, dict) and self.content_variable not in properties:
            raise ValueError(f"inputSchema does not allow the content variable '{self.content_variable}'")
        return self

    @cached_property
    def input_validator(self) -> Validator:
        # Imported here: jsonschema costs cold-start time that only workflows with a schema should pay.
        from jsonschema.validators import validator_for

        schema = self.input_schema or {}
        validator: Validator = validator_for(schema)(schema)
        return validator

    @property
    def latest_version(self) -> int:
        return self.versions[-1]

    def state_machine_name(self, version: int) -> str:
        return f"{self.name}-v{version}"

    def definition_file(self, version: int) -> str:
        return f"v{version}.asl.json"

    def resolve_version(self, requested: int | None) -> int:
        if requested is None:
            return self.latest_version
        if requested not in self.versions:
            raise VersionNotFound(
                f"Workflow '{self.name}' has no version {requested}; versions: {list(self.versions)}"
            )
        return requested

    def require_enabled(self) -> None:
        if not self.enabled:
            raise WorkflowDisabled(
                f"Workflow '{self.name}' is disabled: it cannot be started until an operator enables it"
            )


class Registry(Mapping[str, Workflow]):
    def __init__(self, workflows: Mapping[str, Workflow], root: Path = Path(".")) -> None:
        self._workflows = dict(workflows)
        self._root = root

    def __getitem__(self, name: str) -> Workflow:
        return self._workflows[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._workflows))

    def __len__(self) -> int:
        return len(self._workflows)

    def definition(self, workflow: Workflow, version: int) -> dict[str, Any]:
        """The state machine definition (ASL) of a version, as shipped beside its settings."""
        return _read_definition(self._root / workflow.name / workflow.definition_file(version))

    def find(self, name: str, reader: Caller | None = None) -> Workflow:
        """The workflow; WorkflowNotFound if there is none, or if `reader` may not read it (a workflow
        out of a caller's scope does not exist for it)."""
        workflow = self._workflows.get(name)
        if workflow is None or (reader is not None and not reader.scopes.allows(Action.READ, name)):
            raise WorkflowNotFound(f"No workflow named '{name}'")
        return workflow

    @classmethod
    def load(cls, root: Path) -> Registry:
        workflows = {}
        for settings_file in sorted(root.glob(f"*/{SETTINGS_FILE}")):
            name = settings_file.parent.name
            settings = json.loads(settings_file.read_text(encoding="utf-8"))
            workflows[name] = Workflow.model_validate({**settings, "name": name})
        return cls(workflows, root)


@cache
def _read_definition(path: Path) -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return definition


@cache
def load_registry(root: Path) -> Registry:
    return Registry.load(root)
