"""Mapping Step Functions' view of an execution to flowport's."""

from datetime import UTC, datetime, timedelta

import pytest
from flowport.core import status
from flowport.core.models import (
    ExecutionError,
    ExecutionRecord,
    ExecutionSource,
    ExecutionStatus,
    LiveView,
    ProgressSnapshot,
)
from flowport.core.registry import Workflow

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
WORKFLOW = Workflow(name="w", versions=(1,), statusVariables=("stage", "count"), retentionHours=48)


def record(**changes) -> ExecutionRecord:
    base = ExecutionRecord(
        execution_id="e1",
        workflow="w",
        version=1,
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:s-w-v1",
        status=ExecutionStatus.QUEUED,
        input={"a": 1},
        source=ExecutionSource.HTTP_POST,
        created_at=NOW,
        expires_at=0,
    )
    return base.model_copy(update=changes)


@pytest.mark.parametrize(
    ("aws", "ours"),
    [
        ("RUNNING", ExecutionStatus.RUNNING),
        ("SUCCEEDED", ExecutionStatus.COMPLETED),
        ("FAILED", ExecutionStatus.FAILED),
        ("TIMED_OUT", ExecutionStatus.TIMED_OUT),
        ("ABORTED", ExecutionStatus.CANCELLED),
        ("PENDING_REDRIVE", ExecutionStatus.FAILED),
    ],
)
def test_every_step_functions_status_maps(aws, ours):
    observation = status.observation_from_description({"status": aws, "startDate": NOW})
    assert observation.status is ours


def test_a_lambda_error_cause_gives_its_message():
    error = status.execution_error(
        ExecutionStatus.FAILED, "InvalidDocument", '{"errorMessage": "empty", "errorType": "InvalidDocument"}'
    )
    assert error == ExecutionError(code="InvalidDocument", message="empty")


def test_a_timeout_or_failure_without_cause_still_explains_itself():
    timed_out = status.execution_error(ExecutionStatus.TIMED_OUT, None, None)
    assert timed_out == ExecutionError(
        code="States.Timeout", message="The execution ran longer than its workflow allows"
    )
    failed = status.execution_error(ExecutionStatus.FAILED, None, None)
    assert failed == ExecutionError(code="ExecutionFailed", message="The execution failed")
    assert status.execution_error(ExecutionStatus.COMPLETED, "ignored", None) is None


def test_output_is_parsed_and_errors_only_on_failure():
    done = status.observation_from_description(
        {"status": "SUCCEEDED", "startDate": NOW, "stopDate": NOW, "output": '{"x": 1}', "error": "ignored"}
    )
    assert done.output == {"x": 1}
    assert done.error is None


def view(execution_status: ExecutionStatus, **changes) -> LiveView:
    counted = ProgressSnapshot(progress=40, current_node="B", completed_nodes=2, total_nodes=5, retry_count=0)
    base = LiveView(observed_at=NOW.timestamp(), status=execution_status, started_at=NOW, progress=counted)
    return base.model_copy(update=changes)


def test_record_takes_what_step_functions_said():
    ended = view(ExecutionStatus.COMPLETED, stopped_at=NOW + timedelta(seconds=3))
    current = status.current_record(record(), ended, NOW, 300)
    assert (current.status, current.started_at, current.completed_at) == (
        ExecutionStatus.COMPLETED,
        NOW,
        NOW + timedelta(seconds=3),
    )
    assert current.progress is not None
    assert current.progress.progress == 100


def test_the_start_time_the_sync_function_recorded_wins_over_the_historys():
    """One source: startedAt does not move when the execution ends and its record takes over."""
    recorded_start = NOW + timedelta(milliseconds=7)
    current = status.current_record(
        record(status=ExecutionStatus.RUNNING, started_at=recorded_start),
        view(ExecutionStatus.RUNNING),
        NOW,
        300,
    )
    assert current.started_at == recorded_start


def test_the_workflows_own_progress_wins_over_the_count():
    current = status.current_record(
        record(status_variables={"progress": 87.4}), view(ExecutionStatus.RUNNING), NOW, 300
    )
    assert current.progress is not None
    assert (current.progress.progress, current.progress.current_node) == (87, "B")


def test_a_finished_record_is_never_changed_by_a_view():
    finished = record(status=ExecutionStatus.CANCELLED)
    assert status.current_record(finished, view(ExecutionStatus.RUNNING), NOW, 300) is finished


def test_an_execution_that_never_reached_step_functions_is_queued_then_abandoned():
    assert (
        status.current_record(record(), None, NOW + timedelta(seconds=299), 300).status
        is ExecutionStatus.QUEUED
    )
    abandoned = status.current_record(record(), None, NOW + timedelta(seconds=300), 300)
    assert abandoned.status is ExecutionStatus.FAILED
    assert abandoned.error is not None
    assert abandoned.error.code == "start_abandoned"


def test_status_variables_are_only_the_declared_ones_and_the_output_has_the_last_word():
    recorded = {"stage": "analysing", "secret": "x"}
    assert status.status_variables(WORKFLOW, recorded, None) == {"stage": "analysing"}
    assert status.status_variables(WORKFLOW, recorded, {"stage": "done", "count": 3, "other": 1}) == {
        "stage": "done",
        "count": 3,
    }
    assert status.status_variables(None, recorded, None) == {}


def test_detail_shows_output_only_when_completed_and_error_only_when_failed():
    completed = status.detail_of(
        record(status=ExecutionStatus.COMPLETED, output={"count": 2}, completed_at=NOW), WORKFLOW
    )
    assert completed.output == {"count": 2}
    assert completed.status_variables == {"count": 2}
    assert completed.cleanup_after == NOW + timedelta(hours=48)
    failed = status.detail_of(
        record(status=ExecutionStatus.FAILED, error=ExecutionError(code="E", message="m"), completed_at=NOW),
        WORKFLOW,
    )
    assert failed.output is None
    assert failed.error is not None
    running = status.detail_of(
        record(status=ExecutionStatus.RUNNING, error=ExecutionError(code="E", message="m")), WORKFLOW
    )
    assert running.error is None
    assert running.cleanup_after is None


def test_links_point_at_the_execution():
    assert status.links("e1").self_ == "/executions/e1"
