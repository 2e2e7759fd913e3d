"""Local mode's RedriveExecution (flowport.local.redrive): what AWS does, as far as a client can tell, and
what differs (a Map or Parallel runs again as a whole). Also fails loudly if the moto internals it relies
on change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from flowport import services
from flowport.local import redrive
from flowport.local.cloud import LocalCloud, running
from flowport.local.executions_state import ExecutionSaver, SavedExecution, put_back
from flowport.local.template import Stack
from moto.stepfunctions.parser.backend.execution import Execution
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from moto.stepfunctions.responses import StepFunctionResponse

from tests.support import TICKET, Api, wait_until

ROLE = "arn:aws:iam::123456789012:role/flowport-local"
# A test-only state machine that fails once and then succeeds: its Lookup reads a table that exists only
# once the test has made it. Prepare and Lookup's Catch-less failure show where a redrive goes on from.
FLAKY = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Result": {"id": "k"}, "ResultPath": "$.key", "Next": "Lookup"},
        "Lookup": {
            "Type": "Task",
            "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName": "flags", "Key": {"pk": {"S.$": "$.key.id"}}},
            "ResultPath": "$.found",
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


@pytest.fixture
def sfn(cloud: LocalCloud) -> Any:
    return boto3.client("stepfunctions")


def flaky_machine(sfn: Any, definition: dict[str, Any] = FLAKY, name: str = "flaky") -> str:
    return str(
        sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
    )


def ended(sfn: Any, arn: str) -> dict[str, Any]:
    return wait_until(
        lambda: (found := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and found
    )


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    return list(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])


def names(events: list[dict[str, Any]], suffix: str = "StateEntered") -> list[str]:
    return [event["stateEnteredEventDetails"]["name"] for event in events if event["type"].endswith(suffix)]


def test_a_failed_execution_goes_on_from_the_failed_state_as_the_same_execution(sfn: Any):
    machine = flaky_machine(sfn)
    arn = sfn.start_execution(stateMachineArn=machine, name="run-1", input='{"n": 1}')["executionArn"]
    first = ended(sfn, arn)
    assert (first["status"], first["redriveCount"], first["redriveStatus"]) == ("FAILED", 0, "REDRIVABLE")
    boto3.client("dynamodb").create_table(
        TableName="flags",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    redriven_at = sfn.redrive_execution(executionArn=arn)["redriveDate"]
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    done = ended(sfn, arn)
    assert (done["status"], done["redriveCount"], done["executionArn"], done["name"]) == (
        "SUCCEEDED",
        1,
        arn,
        "run-1",
    )
    assert done["redriveDate"] == redriven_at
    assert done["startDate"] == first["startDate"]  # the same execution, started when it first was
    assert json.loads(done["output"])["n"] == 1
    events = history(sfn, arn)
    assert [event["id"] for event in events] == list(range(1, len(events) + 1))
    kinds = [event["type"] for event in events]
    assert kinds.count("ExecutionStarted") == 1
    assert kinds.count("ExecutionRedriven") == 1
    redriven = next(event for event in events if event["type"] == "ExecutionRedriven")
    assert redriven["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert redriven["previousEventId"] == redriven["id"] - 1
    # Prepare succeeded and ran once; Lookup ran again, with the input it was entered with.
    assert names(events) == ["Prepare", "Lookup", "Lookup", "Done"]
    lookup_again = [event for event in events if event["type"] == "TaskStateEntered"][-1]
    assert lookup_again["previousEventId"] == redriven["id"]
    assert json.loads(lookup_again["stateEnteredEventDetails"]["input"]) == {"n": 1, "key": {"id": "k"}}


def test_what_has_not_ended_unsuccessfully_is_not_redriven(sfn: Any, cloud: LocalCloud):
    ticket_machine = cloud.stack.state_machines["TicketTriageV2StateMachine"].arn
    waiting = sfn.start_execution(
        stateMachineArn=ticket_machine, name="w", input=json.dumps({**TICKET, "delaySeconds": 30})
    )["executionArn"]
    finished = sfn.start_execution(stateMachineArn=ticket_machine, name="f", input=json.dumps(TICKET))
    ended(sfn, finished["executionArn"])
    for arn, reason in ((waiting, "RUNNING"), (finished["executionArn"], "SUCCEEDED")):
        with pytest.raises(ClientError) as refused:
            sfn.redrive_execution(executionArn=arn)
        assert refused.value.response["Error"]["Code"] == "ExecutionNotRedrivable"
        assert f"Execution is {reason} and cannot be redriven" in str(refused.value)
        assert sfn.describe_execution(executionArn=arn)["redriveStatus"] == "NOT_REDRIVABLE"
    with pytest.raises(ClientError) as unknown:
        sfn.redrive_execution(executionArn=waiting.replace(":w", ":never"))
    assert unknown.value.response["Error"]["Code"] == "ExecutionDoesNotExist"


def test_an_execution_that_ended_fourteen_days_ago_is_no_longer_redrivable(sfn: Any):
    machine = flaky_machine(sfn)
    arn = sfn.start_execution(stateMachineArn=machine, name="old", input="{}")["executionArn"]
    ended(sfn, arn)
    execution = stepfunctions_parser_backends["123456789012"]["us-east-1"].describe_execution(arn)
    execution.stop_date = datetime.now(UTC) - timedelta(days=14)  # as the clock the test controls says
    with pytest.raises(ClientError, match="Execution redrivable period exceeded"):
        sfn.redrive_execution(executionArn=arn)
    execution.stop_date = datetime.now(UTC) - timedelta(days=13, hours=23)
    sfn.redrive_execution(executionArn=arn)


def test_a_client_token_again_is_the_same_redrive(sfn: Any):
    machine = flaky_machine(sfn)
    arn = sfn.start_execution(stateMachineArn=machine, name="t", input="{}")["executionArn"]
    ended(sfn, arn)
    first = sfn.redrive_execution(executionArn=arn, clientToken="token-1")["redriveDate"]
    ended(sfn, arn)  # it failed again (no table): a new token would redrive it again
    assert sfn.redrive_execution(executionArn=arn, clientToken="token-1")["redriveDate"] == first
    assert sfn.describe_execution(executionArn=arn)["redriveCount"] == 1
    sfn.redrive_execution(executionArn=arn, clientToken="token-2")
    ended(sfn, arn)
    assert sfn.describe_execution(executionArn=arn)["redriveCount"] == 2
    assert [event["type"] for event in history(sfn, arn)].count("ExecutionRedriven") == 2


def test_a_failure_inside_a_map_runs_the_whole_map_again(sfn: Any):
    """The documented difference: AWS would run only the failed iteration again."""
    definition = {
        "StartAt": "Each",
        "States": {
            "Each": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Check",
                    "States": {
                        "Check": {
                            "Type": "Choice",
                            "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Broken"}],
                            "Default": "Fine",
                        },
                        "Broken": {"Type": "Fail", "Error": "Broken"},
                        "Fine": {"Type": "Succeed"},
                    },
                },
                "End": True,
            }
        },
    }
    machine = flaky_machine(sfn, definition, name="map")
    arn = sfn.start_execution(stateMachineArn=machine, name="m", input='{"items": [1, 2]}')["executionArn"]
    assert ended(sfn, arn)["status"] == "FAILED"
    sfn.redrive_execution(executionArn=arn)
    assert ended(sfn, arn)["status"] == "FAILED"
    assert names(history(sfn, arn)).count("Each") == 2
    started = [event["type"] for event in history(sfn, arn)].count("MapIterationStarted")
    assert started == 4  # both items, both times


@pytest.mark.parametrize(
    ("events", "state", "state_input"),
    [
        ([], "Prepare", {"n": 1}),  # it ended before any state
        (
            [
                {
                    "id": 2,
                    "previousEventId": 0,
                    "type": "PassStateEntered",
                    "stateEnteredEventDetails": {"name": "Prepare", "input": "{}"},
                },
                {
                    "id": 3,
                    "previousEventId": 2,
                    "type": "PassStateExited",
                    "stateExitedEventDetails": {"name": "Prepare", "output": '{"a": 1}'},
                },
            ],
            "Lookup",
            {"a": 1},
        ),  # aborted between two states: the next one
    ],
)
def test_where_a_redrive_goes_on_from(events: list[dict[str, Any]], state: str, state_input: Any):
    started = {"id": 1, "previousEventId": 0, "type": "ExecutionStarted"}
    point = redrive.restart_point([started, *events], FLAKY, {"n": 1})
    assert (point.state, point.input) == (state, state_input)


def test_the_sync_function_records_a_redrive_flowport_did_not_make(api: Api, cloud: LocalCloud):
    """As when a retry died after RedriveExecution, or someone redrove it in the console: the local
    EventBridge sends its status changes with redriveCount, as AWS does."""
    started = api.start(body={**TICKET, "subject": "cheap spam"}).json()
    execution_id = started["executionId"]
    record = wait_until(
        lambda: (
            (found := services.execution_store().get(execution_id, 0)) and found.status.is_terminal and found
        )
    )
    boto3.client("stepfunctions").redrive_execution(executionArn=record.execution_arn)
    again = wait_until(
        lambda: (
            (found := services.execution_store().get(execution_id, 0)) and found.redrive_count == 1 and found
        )
    )
    assert again.status.value in {"RUNNING", "FAILED"}
    wait_until(
        lambda: (found := services.execution_store().get(execution_id, 0)) and found.status.value == "FAILED"
    )
    assert api.get(execution_id).json()["redriveCount"] == 1


def test_a_redriven_execution_is_saved_again_and_restored_with_its_attempts(stack: Stack, tmp_path: Path):
    with running(stack):
        sfn = boto3.client("stepfunctions")
        machine = stack.state_machines["TicketTriageV2StateMachine"].arn
        spam = json.dumps({**TICKET, "subject": "spam"})
        arn = sfn.start_execution(stateMachineArn=machine, name="saved", input=spam)["executionArn"]
        ended(sfn, arn)
        saver = ExecutionSaver(tmp_path, set())
        saver.save()
        sfn.redrive_execution(executionArn=arn)
        ended(sfn, arn)
        saver.save()
        (path,) = tmp_path.glob("executions/*/saved.json")
        saved = SavedExecution.read(path)
        assert saved.description["redriveCount"] == 1
        assert [event["type"] for event in saved.events].count("ExecutionRedriven") == 1
    services.reset()
    with running(stack):
        assert put_back(saved)
        sfn = boto3.client("stepfunctions")
        assert sfn.describe_execution(executionArn=arn)["redriveCount"] == 1
        sfn.redrive_execution(executionArn=arn)  # the restored one runs again, counting on
        assert ended(sfn, arn)["redriveCount"] == 2
        assert [event["type"] for event in history(sfn, arn)].count("ExecutionRedriven") == 2
    services.reset()


def test_the_moto_internals_it_relies_on_are_still_there(cloud: LocalCloud):
    assert redrive.is_installed()
    assert callable(StepFunctionResponse.redrive_execution)  # type: ignore[attr-defined]
    for name in (
        "start",
        "_get_start_execution_worker",
        "to_history_output",
        "get_start_state_machine_details",
    ):
        assert callable(getattr(Execution, name))
    backend = stepfunctions_parser_backends["123456789012"]["us-east-1"]
    assert callable(backend._get_state_machine_for_execution)
