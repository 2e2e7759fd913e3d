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

from pydantic import BaseModel, ConfigDict, Field

# Where the WorkflowsLayer puts `statemachines/` inside a Lambda container.
LAMBDA_WORKFLOWS_PATH = Path("/opt/python")


ENVIRONMENT_PREFIX = "FLOWPORT_"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    table_name: str = Field(
        default="flowport-executions", description="DynamoDB table of executions and keys"
    )
    workflows_path: Path = Field(default=LAMBDA_WORKFLOWS_PATH, description="Folder of workflow folders")
    state_machine_arn_prefix: str = Field(
        default="arn:aws:states:us-east-1:123456789012:stateMachine:flowport-",
        description="ARN of a state machine without its `<workflow>-v<version>` suffix",
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

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """The settings whose variables are set; a value that does not fit its setting raises."""
        variables = {name.upper(): value for name, value in environ.items()}
        return cls.model_validate(
            {
                name: variables[variable]
                for name in cls.model_fields
                if (variable := ENVIRONMENT_PREFIX + name.upper()) in variables
            }
        )


@cache
def get_settings() -> Settings:
    return Settings.from_environment()
