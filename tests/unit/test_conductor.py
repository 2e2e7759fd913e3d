"""flowport.core.conductor: statuses, tasks and searches as Conductor names them. Pure rules, no mocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flowport.core import conductor
from flowport.core.errors import BadRequest
from flowport.core.identity import Action
from flowport.core.models import (
    ConflictStrategy,
    ExecutionDetail,
    ExecutionError,
    ExecutionLinks,
    ExecutionSource,
    ExecutionStatus,
    ExecutionSummary,
    NodeEntry,
    NodeStatus,
)
from flowport.core.policy import policy_for
from flowport.core.registry import Registry, Workflow

from tests.support import caller

# A fixed instant: nothing here depends on today's date.
T0 = datetime(2030, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
LINKS = ExecutionLinks.model_validate({"self": "/executions/e1", "cancel": "/executions/e1"})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (ExecutionStatus.QUEUED, "RUNNING"),
        (ExecutionStatus.RUNNING, "RUNNING"),
        (ExecutionStatus.COMPLETED, "COMPLETED"),
        (ExecutionStatus.FAILED, "FAILED"),
        (ExecutionStatus.TIMED_OUT, "TIMED_OUT"),
        (ExecutionStatus.CANCELLED, "TERMINATED"),
    ],
)
def test_each_status_reads_as_conductors(status: ExecutionStatus, expected: str):
    assert conductor.workflow_status(status) == expected


def test_every_status_has_a_conductor_name_and_back():
    for status in ExecutionStatus:
        assert status in conductor.execution_statuses(conductor.workflow_status(status))
    assert conductor.execution_statuses("running") == (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
    assert conductor.execution_statuses("TERMINATED") == (ExecutionStatus.CANCELLED,)
    assert conductor.execution_statuses("PAUSED") == ()  # flowport never pauses
    with pytest.raises(BadRequest, match="one of RUNNING"):
        conductor.execution_statuses("CANCELLED")  # flowport's name, not Conductor's


def test_each_node_status_is_a_conductor_task_status():
    assert {status: conductor.task_status(status) for status in NodeStatus} == {
        NodeStatus.RUNNING: "IN_PROGRESS",
        NodeStatus.SUCCEEDED: "COMPLETED",
        NodeStatus.FAILED: "FAILED",
        NodeStatus.TIMED_OUT: "TIMED_OUT",
        NodeStatus.CANCELLED: "CANCELED",
    }


def test_state_types_are_conductors_task_types_where_there_is_one():
    assert conductor.task_type("Task") == "SIMPLE"
    assert conductor.task_type("Choice") == "SWITCH"
    assert conductor.task_type("Map") == "FORK_JOIN_DYNAMIC"
    assert conductor.task_type("Pass") == "PASS"


def test_idempotency_strategies_are_flowports_with_conductors_default():
    assert conductor.idempotency_strategy("k", None) is ConflictStrategy.FAIL
    assert conductor.idempotency_strategy("k", "return_existing") is ConflictStrategy.RETURN_EXISTING
    assert conductor.idempotency_strategy("k", "FAIL_ON_RUNNING") is ConflictStrategy.FAIL_ON_RUNNING
    assert conductor.idempotency_strategy(None, "FAIL") is None  # the SDK sends FAIL on every start
    with pytest.raises(BadRequest, match="idempotencyStrategy"):
        conductor.idempotency_strategy("k", "OVERWRITE")


def test_a_query_of_equals_in_and_and():
    parsed = conductor.parse_query(
        "workflowType IN (ticket-triage, 'partner-sync') AND status = RUNNING and correlationId=\"o-1\""
    )
    assert parsed == conductor.SearchQuery(
        workflow_types=("ticket-triage", "partner-sync"),
        statuses=(ExecutionStatus.QUEUED, ExecutionStatus.RUNNING),
        correlation_ids=("o-1",),
    )


def test_no_query_and_free_text_star_find_everything():
    assert conductor.parse_query(None, "*") == conductor.SearchQuery()
    assert conductor.parse_query("  ", None) == conductor.SearchQuery()
    assert conductor.parse_query("", "") == conductor.SearchQuery()


def test_status_alternatives_are_flowports_statuses_once():
    parsed = conductor.parse_query("status IN (RUNNING, TERMINATED, RUNNING)")
    assert parsed.statuses == (ExecutionStatus.QUEUED, ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED)


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("startTime > 0", "Unsupported query clause"),
        ("workflowType = a OR status = FAILED", "Unsupported query clause"),
        ("owner = me", "Unsupported query field 'owner'"),
        ("status = a AND status = b", "appears twice"),
        ("status = HALTED", "Unknown workflow status"),
        ("workflowType IN (a,,b)", "empty value"),
        ("workflowType =", "Unsupported query clause"),
    ],
)
def test_any_other_query_is_a_400_that_says_what_is_taken(query: str, says: str):
    with pytest.raises(BadRequest, match=says):
        conductor.parse_query(query)


def test_free_text_other_than_star_is_a_400():
    with pytest.raises(BadRequest, match="freeText 'checkout' is not supported"):
        conductor.parse_query(None, "checkout")


def test_sort_is_by_start_time_either_way():
    assert conductor.newest_first(None) is True
    assert conductor.newest_first("startTime:DESC") is True
    assert conductor.newest_first("startTime:ASC") is False
    assert conductor.newest_first("startTime") is False  # Conductor's default direction is ASC
    with pytest.raises(BadRequest, match="Unsupported sort"):
        conductor.newest_first("workflowType:ASC")


def _summary(
    execution_id: str, seconds: int, status: ExecutionStatus = ExecutionStatus.RUNNING
) -> ExecutionSummary:
    return ExecutionSummary(
        execution_id=execution_id,
        workflow="ticket-triage",
        version=2,
        status=status,
        priority=0,
        created_at=T0 + timedelta(seconds=seconds),
        links=LINKS,
    )


def test_a_page_of_hits_from_several_searches_counts_each_once():
    hits = [_summary("a", 1), _summary("b", 3), _summary("a", 1), _summary("c", 2, ExecutionStatus.CANCELLED)]
    page = conductor.hits_page(hits, start=1, size=1)
    assert page.total_hits == 3
    assert [(hit.workflow_id, hit.status) for hit in page.results] == [("c", "TERMINATED")]
    oldest = conductor.hits_page(hits, start=0, size=10, newest_first=False)
    assert [hit.workflow_id for hit in oldest.results] == ["a", "c", "b"]
    assert oldest.results[0].start_time == "2030-01-02T03:04:06.678000Z"
    assert conductor.hits_page(hits, start=5, size=10).results == []


def _detail(**fields: object) -> ExecutionDetail:
    base: dict[str, object] = {
        "execution_id": "e1",
        "workflow": "ticket-triage",
        "version": 2,
        "status": ExecutionStatus.FAILED,
        "priority": 3,
        "created_at": T0,
        "started_at": T0 + timedelta(seconds=1),
        "completed_at": T0 + timedelta(seconds=4),
        "links": LINKS,
        "source": ExecutionSource.HTTP_POST,
        "input": {"subject": "x"},
        "error": ExecutionError(code="TicketRejected", message="Looks like spam", node="Reject"),
        "status_variables": {"queue": "spam"},
    }
    return ExecutionDetail.model_validate({**base, **fields})


def test_a_workflow_from_an_execution_and_its_state_runs():
    runs = [
        NodeEntry(
            name="Screen",
            type="Task",
            status=NodeStatus.SUCCEEDED,
            started_at=T0 + timedelta(seconds=1),
            ended_at=T0 + timedelta(seconds=2),
            attempts=2,
            output={"spam": True},
        ),
        NodeEntry(
            name="Reject",
            type="Fail",
            status=NodeStatus.FAILED,
            started_at=T0 + timedelta(seconds=3),
            attempts=0,
            error=ExecutionError(code="TicketRejected", message="Looks like spam"),
        ),
    ]
    workflow = conductor.workflow_of(_detail(), runs)
    assert (workflow.status, workflow.reason_for_incompletion) == (
        "FAILED",
        "TicketRejected: Looks like spam",
    )
    assert workflow.failed_reference_task_names == ["Reject"]
    assert (workflow.create_time, workflow.start_time, workflow.end_time) == (
        1893553445678,
        1893553446678,
        1893553449678,
    )
    screen, reject = workflow.tasks
    assert (screen.task_id, screen.seq, screen.task_type, screen.status, screen.retry_count) == (
        "e1-1",
        1,
        "SIMPLE",
        "COMPLETED",
        1,
    )
    assert (screen.end_time - screen.start_time, screen.output_data) == (1000, {"spam": True})
    assert (reject.task_type, reject.status, reject.end_time, reject.retry_count) == (
        "TERMINATE",
        "FAILED",
        None,
        0,
    )
    assert reject.reason_for_incompletion == "TicketRejected: Looks like spam"


def test_an_output_that_is_not_an_object_is_kept_under_result():
    workflow = conductor.workflow_of(_detail(status=ExecutionStatus.COMPLETED, error=None, output=[1, 2]))
    assert (workflow.output, workflow.reason_for_incompletion, workflow.tasks) == (
        {"result": [1, 2]},
        None,
        [],
    )
    assert conductor.status_of(_detail(output=None)).output == {}


def test_an_unsupported_endpoint_names_its_alternative():
    assert "terminate" in conductor.alternative_to("/workflow/e1/pause")
    assert "retention" in conductor.alternative_to("/workflow/e1/remove")
    assert "no tasks to poll" in conductor.alternative_to("/tasks/poll/batch/SIMPLE")
    assert "statemachines/" in conductor.alternative_to("/metadata/workflow")
    assert conductor.alternative_to("/event") == conductor.GENERIC_ALTERNATIVE


def test_conductors_errors_are_retryable_when_flowports_are():
    assert conductor.error_of(503, "service_unavailable", "m").retryable is True
    assert conductor.error_of(429, "throttled", "m").retryable is True
    assert conductor.error_of(409, "execution_not_cancellable", "m").retryable is False
    assert conductor.error_of(501, "not_implemented", "m").retryable is False


REGISTRY = Registry(
    {"ticket-triage": Workflow.model_validate({"name": "ticket-triage", "versions": [1]})}, Path(".")
)


def test_the_policy_covers_conductors_routes_by_the_same_actions():
    reader = policy_for(caller(actions=(Action.READ,)), REGISTRY)
    assert ("GET", "/api/workflow/*") in reader.allow
    assert not {("POST", "/api/workflow"), ("DELETE", "/api/workflow/*")} & set(reader.allow)
    starter = policy_for(caller(actions=(Action.START,)), REGISTRY)
    assert {("POST", "/api/workflow"), ("POST", "/api/workflow/*")} <= set(starter.allow)
    # The start wildcard would reach retry and restart: denied without the retry action.
    assert {("POST", "/api/workflow/*/retry"), ("POST", "/api/workflow/*/restart")} <= set(starter.deny)
    named = policy_for(
        caller(workflows=("ticket-triage",), actions=(Action.START, Action.CANCEL, Action.RETRY)), REGISTRY
    )
    assert {("POST", "/api/workflow/ticket-triage"), ("DELETE", "/api/workflow/*")} <= set(named.allow)
    assert ("POST", "/api/workflow/*/restart") in named.allow
    assert named.deny == ()
    nobody = policy_for(caller(workflows=("other",), actions=(Action.START,)), REGISTRY)
    assert ("POST", "/api/workflow") not in nobody.allow  # may start nothing here
