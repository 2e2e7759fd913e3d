"""Every setting flowport reads from the environment, in one place, checked once per container.

A setting `name` is read from `FLOWPORT_NAME`, in any case. A plain pydantic model reads them rather than
pydantic-settings, whose import (dotenv, argparse and cloud secret sources we do not use) took about
40 ms of each function's cold start (`make bench`, figure 1).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# Where the WorkflowsLayer puts `statemachines/` inside a Lambda container.
LAMBDA_WORKFLOWS_PATH = Path("/opt/python")
# A function's code folder, as Lambda (and local mode) say in LAMBDA_TASK_ROOT; the console's files in it.
LAMBDA_TASK_ROOT = Path("/var/task")
CONSOLE_ASSETS = "assets"


ENVIRONMENT_PREFIX = "FLOWPORT_"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    # Required: a function deployed without them must fail at its first use, naming what is missing,
    # rather than write to a table or start state machines that are not the stack's.
    table_name: str = Field(min_length=1, description="DynamoDB table of executions and keys")
    state_machine_arn_prefix: str = Field(
        pattern=r"^arn:[a-z-]+:states:[a-z0-9-]+:[0-9]{12}:stateMachine:",
        description="ARN of a state machine without its `<workflow>-v<version>` suffix",
    )
    workflows_path: Path = Field(default=LAMBDA_WORKFLOWS_PATH, description="Folder of workflow folders")
    console_path: Path = Field(
        default=LAMBDA_TASK_ROOT / CONSOLE_ASSETS,
        description="Folder of the web console's files: the console function's assets/ (functions/console) "
        "unless set",
    )
    start_lease_seconds: int = Field(
        default=30, gt=0, description="How long a keyed start may take before another request takes it over"
    )
    start_deadline_seconds: int = Field(
        default=300, gt=0, description="After this, an execution that never reached Step Functions is FAILED"
    )
    max_run_seconds: int = Field(
        default=7 * 24 * 3600,
        gt=0,
        description="Longest a workflow may run; bounds the TTL written before the end is known",
    )
    default_max_concurrency: int = Field(
        default=0,
        ge=0,
        le=5000,
        description="The limit of every workflow whose workflow.json sets no maxConcurrency; 0: none",
    )
    slot_grace_seconds: float = Field(
        default=60,
        gt=0,
        description="Longer than any function runs: a slot taken this long ago by a start that left no "
        "trace of it is the reconciler's to free",
    )

    live_view_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How long one history read of a running execution serves its status reads and streams",
    )
    live_view_claim_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How long others wait for a reader refreshing a live view before one of them may",
    )

    stream_max_seconds: float = Field(
        default=25,
        gt=0,
        le=25,
        description="Longest an event stream response waits for news: under API Gateway's 29 s timeout",
    )
    stream_poll_seconds: float = Field(
        default=1, gt=0, description="How often an event stream looks for news while it waits"
    )
    stream_retry_ms: int = Field(
        default=1000, ge=0, description="The `retry:` an event stream asks clients to reconnect after"
    )

    auth_cache_seconds: float = Field(
        default=300,
        ge=0,
        le=3600,
        description="How long the authorizer trusts a credential it checked: a revoked key works this long",
    )

    delivery_queue_url: str | None = Field(
        default=None, description="SQS queue of webhook deliveries; unset, executions end without callbacks"
    )
    delivery_dead_letter_queue_url: str | None = Field(
        default=None, description="SQS queue keeping the deliveries whose last attempt failed"
    )
    webhook_timeout_seconds: float = Field(
        default=15, gt=0, le=30, description="How long a callback's receiver has to answer"
    )
    webhook_clock_scale: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Every wait of the retry schedule (and Retry-After) times this: under 1 only locally, "
        "to run the whole schedule in seconds",
    )
    webhook_allow_local_http: bool = Field(
        default=False,
        description="Local mode only: callbacks may go to http://127.0.0.1 (the banner says so)",
    )

    token_key: str | None = Field(
        default=None,
        min_length=32,
        description="HMAC key of page tokens and event ids; unset, the table's name is (token_secret)",
    )

    @property
    def token_secret(self) -> bytes:
        """The key that signs page tokens and event ids (flowport.core.tokens). Without a token key set,
        the table's name: on AWS CloudFormation names it with a random suffix, which no API client sees,
        so a client cannot sign a token of its own. It is not secret from those who can read the stack,
        but they can read the table itself; a token only ever reads what its caller may read anyway."""
        return (self.token_key or self.table_name).encode()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """The settings whose variables are set; SettingsError names each variable that is missing or
        whose value does not fit its setting."""
        variables = {name.upper(): value for name, value in environ.items()}
        values: dict[str, object] = {
            name: variables[variable]
            for name in cls.model_fields
            if (variable := ENVIRONMENT_PREFIX + name.upper()) in variables
        }
        if "LAMBDA_TASK_ROOT" in variables:  # Lambda's own variable
            values.setdefault("console_path", Path(variables["LAMBDA_TASK_ROOT"]) / CONSOLE_ASSETS)
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise SettingsError.from_validation(error) from None


class SettingsError(Exception):
    """The environment lacks a required variable, or has one flowport cannot use."""

    @classmethod
    def from_validation(cls, error: ValidationError) -> SettingsError:
        faults = []
        for fault in error.errors(include_url=False, include_input=False):
            name = str(fault["loc"][0]) if fault["loc"] else ""
            variable = ENVIRONMENT_PREFIX + name.upper() if name in Settings.model_fields else name
            faults.append(f"{variable}: {'not set' if fault['type'] == 'missing' else fault['msg']}")
        return cls("flowport's environment is incomplete: " + "; ".join(faults))


@cache
def get_settings() -> Settings:
    return Settings.from_environment()
