"""Step Functions' executions across a `flowport dev --state-dir` restart: saved, and put back into moto.

moto keeps executions in memory only, so a fresh moto knows none of them: status, history and stream
would read nothing, and an idempotency key's old execution name would be free to start again (on AWS it
never is). So every execution's DescribeExecution and GetExecutionHistory answers are saved, one file per
execution (a finished one once, a running one whenever its history grows), and put back at start as
executions that have ended, which moto then answers for as it does for its own.

An execution cannot resume in local mode: moto's interpreter state is not something to save. One that was
running (or whose start was under way) when the server stopped ended there: it is put back FAILED with
error `local_restart`, at the time of the last save, and its history ends with that ExecutionFailed event.

moto internals relied on (tests/local/test_restarts.py fails loudly if they change):
- `moto.stepfunctions.parser.models.stepfunctions_parser_backends[account][region]` is the backend that
  executes state machines; its `describe_state_machine(arn).executions` is the list it looks executions
  up in, by `execution_arn`, and by `name` and `status` when a start reuses a name;
- `moto.stepfunctions.parser.backend.execution.Execution` answers DescribeExecution from `exec_status`,
  `start_date`, `stop_date`, `execution_input`, `output`, `error` and `cause`, and GetExecutionHistory from
  `to_history_output()`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.stepfunctions.exceptions import StateMachineDoesNotExist
from moto.stepfunctions.parser.api import ExecutionStatus, GetExecutionHistoryOutput
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from flowport.local import redrive
from flowport.local.files import write_atomically
from flowport.local.template import LOCAL_REGION

LOCAL_RESTART = "local_restart"
LOCAL_RESTART_CAUSE = (
    "The local server restarted while this execution ran; local mode does not resume executions"
)
_RUNNING = "RUNNING"
_DATES = ("startDate", "stopDate", "redriveDate")


def _directory(state_dir: Path) -> Path:
    return state_dir / "executions"


def _file(state_dir: Path, execution_arn: str) -> Path:
    # An execution name is unique within its state machine: `<state machine>/<execution>` is unique.
    state_machine_name, execution_name = execution_arn.rsplit(":", 2)[-2:]
    return _directory(state_dir) / state_machine_name / f"{execution_name}.json"


def _encoded(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


@dataclass(frozen=True)
class SavedExecution:
    """An execution as Step Functions' own answers describe it."""

    description: dict[str, Any]
    """DescribeExecution's answer, startDate and stopDate as datetimes."""
    events: list[dict[str, Any]]
    """GetExecutionHistory's events, oldest first, timestamps as datetimes."""

    @classmethod
    def read(cls, path: Path) -> SavedExecution:
        saved = json.loads(path.read_text(encoding="utf-8"))
        description = {
            name: datetime.fromisoformat(value) if name in _DATES else value
            for name, value in saved["description"].items()
        }
        events = [
            {**event, "timestamp": datetime.fromisoformat(event["timestamp"])} for event in saved["events"]
        ]
        return cls(description, events)

    def encoded(self) -> bytes:
        return json.dumps({"description": self.description, "events": self.events}, default=_encoded).encode()

    @property
    def running(self) -> bool:
        return bool(self.description["status"] == _RUNNING)

    def ended_by_restart(self, at: datetime) -> SavedExecution:
        """The execution as it ended when the server stopped: FAILED with `local_restart`, at `at`."""
        last_id = max((int(event["id"]) for event in self.events), default=0)
        failed = {
            "id": last_id + 1,
            "previousEventId": last_id,
            "timestamp": at,
            "type": "ExecutionFailed",
            "executionFailedEventDetails": {"error": LOCAL_RESTART, "cause": LOCAL_RESTART_CAUSE},
        }
        description = {
            **self.description,
            "status": "FAILED",
            "stopDate": at,
            "error": LOCAL_RESTART,
            "cause": LOCAL_RESTART_CAUSE,
        }
        return SavedExecution(description, [*self.events, failed])


def never_saved(state_machine_arn: str, name: str, input_json: str, created_at: datetime) -> SavedExecution:
    """An execution no save saw in Step Functions (its start came after the last one, or never reached
    it): started when its record was created, as far as anyone can tell."""
    execution_arn = f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
    started = {
        "id": 1,
        "previousEventId": 0,
        "timestamp": created_at,
        "type": "ExecutionStarted",
        "executionStartedEventDetails": {"input": input_json, "roleArn": ""},
    }
    description = {
        "executionArn": execution_arn,
        "stateMachineArn": state_machine_arn,
        "name": name,
        "status": _RUNNING,
        "startDate": created_at,
        "input": input_json,
    }
    return SavedExecution(description, [started])


class _Restored(Execution):
    """A saved execution that has ended, answering as moto's own do; it never runs."""

    def __init__(self, saved: SavedExecution, state_machine: Any) -> None:
        description = saved.description
        super().__init__(
            name=description["name"],
            sm_type=state_machine.sm_type,
            role_arn=state_machine.roleArn,
            exec_arn=description["executionArn"],
            account_id=DEFAULT_ACCOUNT_ID,
            region_name=LOCAL_REGION,
            state_machine=state_machine,
            start_date=description["startDate"],
            cloud_watch_logging_session=None,
            activity_store={},
            input_data=description.get("input") or "{}",
        )
        self.exec_status = ExecutionStatus(description["status"])
        self.stop_date = description.get("stopDate")
        self.output = description.get("output")  # moto answers a text output as it is
        self.error = description.get("error")
        self.cause = description.get("cause")
        self._events = saved.events
        # A redriven one may be redriven again (flowport.local.redrive), counting on from here.
        self.redrive_count = int(description.get("redriveCount") or 0)
        if description.get("redriveDate") is not None:
            self.redrive_date = description["redriveDate"]

    def to_history_output(self) -> GetExecutionHistoryOutput:
        return GetExecutionHistoryOutput(events=self._events)  # type: ignore[typeddict-item]

    def stop(self, stop_date: datetime, error: str | None, cause: str | None) -> None:
        """It has ended: as on AWS, stopping it changes nothing."""


def restore(state_dir: Path, at: datetime) -> dict[str, bool]:
    """Put every saved execution back into moto (one that was running: ended by the restart, `at`); the
    ARN of each put back, and whether the restart ended it."""
    restored = {}
    for path in sorted(_directory(state_dir).glob("*/*.json")):
        saved = SavedExecution.read(path)
        if put_back(saved.ended_by_restart(at) if saved.running else saved):
            restored[str(saved.description["executionArn"])] = saved.running
    return restored


def put_back(saved: SavedExecution) -> bool:
    """Put an execution that has ended back into moto; False if its state machine is no longer deployed
    (the template changed since the save)."""
    backend = stepfunctions_parser_backends[DEFAULT_ACCOUNT_ID][LOCAL_REGION]
    try:
        # Any: moto types a state machine's executions as its older, non-executing Execution class.
        state_machine: Any = backend.describe_state_machine(saved.description["stateMachineArn"])
    except StateMachineDoesNotExist:
        return False
    state_machine.executions.append(_Restored(saved, state_machine))
    return True


def _description(client: Any, execution_arn: str) -> dict[str, Any]:
    description = dict(client.describe_execution(executionArn=execution_arn))
    description.pop("ResponseMetadata", None)
    return description


class ExecutionSaver:
    """Saves what changed in Step Functions since its last save: a finished execution once, a running
    one whenever its history grew."""

    def __init__(self, state_dir: Path, already_saved: set[str]) -> None:
        self._state_dir = state_dir
        # Finished executions saved, with how many redrives this process had made of each by then: a
        # redrive (flowport.local.redrive) makes a saved one run, and end, again.
        self._final = dict.fromkeys(already_saved, 0)
        self._event_counts: dict[str, int] = {}

    def save(self) -> None:
        client = boto3.client("stepfunctions", region_name=LOCAL_REGION)
        for execution_arn in self._unsaved(client):
            redrives = redrive.redrives_made(execution_arn)
            description = _description(client, execution_arn)
            events = [
                dict(event)
                for page in client.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
                for event in page["events"]
            ]
            running = description["status"] == _RUNNING
            if running and _description(client, execution_arn)["status"] != _RUNNING:
                continue  # it ended while its history was read, which may hold the end: saved next time
            if running and self._event_counts.get(execution_arn) == len(events):
                continue
            write_atomically(
                _file(self._state_dir, execution_arn), SavedExecution(description, events).encoded()
            )
            if running:
                self._event_counts[execution_arn] = len(events)
            else:
                self._final[execution_arn] = redrives
                self._event_counts.pop(execution_arn, None)

    def _unsaved(self, client: Any) -> Iterator[str]:
        machines = client.get_paginator("list_state_machines").paginate()
        for machine in (machine for page in machines for machine in page["stateMachines"]):
            for page in client.get_paginator("list_executions").paginate(
                stateMachineArn=machine["stateMachineArn"]
            ):
                for execution in page["executions"]:
                    arn = str(execution["executionArn"])
                    if self._final.get(arn) != redrive.redrives_made(arn):
                        yield arn
