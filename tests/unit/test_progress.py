"""Progress from a definition and a Step Functions history: the counting rules of flowport.core.progress.

The histories are real ones recorded from moto (local mode) running the shipped workflows, trimmed:
timestamps, inputs, outputs and stack traces dropped, newest event first as AWS returns them. The
document-summary ones were recorded before its ReportSections step existed: the counting rules only
need a history to be consistent with itself, and the skipped step shows as not completed.
"""

import json
from pathlib import Path
from typing import Any

import pytest
from flowport.core.progress import NodeFailure, Progress, count_nodes, node_names, progress_of

STATEMACHINES = Path(__file__).resolve().parents[2] / "statemachines"


def definition(workflow: str, version: int) -> dict[str, Any]:
    return json.loads((STATEMACHINES / workflow / f"v{version}.asl.json").read_text())


DOCUMENT_SUMMARY = definition("document-summary", 1)
TICKET_TRIAGE = definition("ticket-triage", 2)


def up_to(events: list[dict[str, Any]], last_id: int) -> list[dict[str, Any]]:
    """The history as it stood when event `last_id` was the newest."""
    return [event for event in events if event["id"] <= last_id]


# document-summary, a two-section document: ParseDocument, the Map over two items, Summarise, Summarised.
DOCUMENT_SUCCEEDED = [
    {"type": "ExecutionSucceeded", "id": 32, "previousEventId": 31},
    {
        "type": "SucceedStateExited",
        "id": 31,
        "previousEventId": 30,
        "stateExitedEventDetails": {"name": "Summarised"},
    },
    {
        "type": "SucceedStateEntered",
        "id": 30,
        "previousEventId": 29,
        "stateEnteredEventDetails": {"name": "Summarised"},
    },
    {
        "type": "TaskStateExited",
        "id": 29,
        "previousEventId": 28,
        "stateExitedEventDetails": {"name": "Summarise"},
    },
    {"type": "TaskSucceeded", "id": 28, "previousEventId": 27},
    {"type": "TaskStarted", "id": 27, "previousEventId": 26},
    {"type": "TaskScheduled", "id": 26, "previousEventId": 25},
    {
        "type": "TaskStateEntered",
        "id": 25,
        "previousEventId": 24,
        "stateEnteredEventDetails": {"name": "Summarise"},
    },
    {
        "type": "MapStateExited",
        "id": 24,
        "previousEventId": 22,
        "stateExitedEventDetails": {"name": "AnalyseSections"},
    },
    {"type": "MapStateSucceeded", "id": 23, "previousEventId": 22},
    {
        "type": "MapIterationSucceeded",
        "id": 22,
        "previousEventId": 21,
        "mapIterationSucceededEventDetails": {"name": "AnalyseSections"},
    },
    {
        "type": "TaskStateExited",
        "id": 21,
        "previousEventId": 19,
        "stateExitedEventDetails": {"name": "AnalyseSection"},
    },
    {
        "type": "MapIterationSucceeded",
        "id": 20,
        "previousEventId": 18,
        "mapIterationSucceededEventDetails": {"name": "AnalyseSections"},
    },
    {"type": "TaskSucceeded", "id": 19, "previousEventId": 16},
    {
        "type": "TaskStateExited",
        "id": 18,
        "previousEventId": 17,
        "stateExitedEventDetails": {"name": "AnalyseSection"},
    },
    {"type": "TaskSucceeded", "id": 17, "previousEventId": 12},
    {"type": "TaskStarted", "id": 16, "previousEventId": 15},
    {"type": "TaskScheduled", "id": 15, "previousEventId": 14},
    {
        "type": "TaskStateEntered",
        "id": 14,
        "previousEventId": 13,
        "stateEnteredEventDetails": {"name": "AnalyseSection"},
    },
    {
        "type": "MapIterationStarted",
        "id": 13,
        "previousEventId": 8,
        "mapIterationStartedEventDetails": {"name": "AnalyseSections"},
    },
    {"type": "TaskStarted", "id": 12, "previousEventId": 11},
    {"type": "TaskScheduled", "id": 11, "previousEventId": 10},
    {
        "type": "TaskStateEntered",
        "id": 10,
        "previousEventId": 9,
        "stateEnteredEventDetails": {"name": "AnalyseSection"},
    },
    {
        "type": "MapIterationStarted",
        "id": 9,
        "previousEventId": 8,
        "mapIterationStartedEventDetails": {"name": "AnalyseSections"},
    },
    {"type": "MapStateStarted", "id": 8, "previousEventId": 7},
    {
        "type": "MapStateEntered",
        "id": 7,
        "previousEventId": 6,
        "stateEnteredEventDetails": {"name": "AnalyseSections"},
    },
    {
        "type": "TaskStateExited",
        "id": 6,
        "previousEventId": 5,
        "stateExitedEventDetails": {"name": "ParseDocument"},
    },
    {"type": "TaskSucceeded", "id": 5, "previousEventId": 4},
    {"type": "TaskStarted", "id": 4, "previousEventId": 3},
    {"type": "TaskScheduled", "id": 3, "previousEventId": 2},
    {
        "type": "TaskStateEntered",
        "id": 2,
        "previousEventId": 0,
        "stateEnteredEventDetails": {"name": "ParseDocument"},
    },
    {"type": "ExecutionStarted", "id": 1, "previousEventId": 0},
]

# document-summary with document "": InvalidDocument is caught and sent to the RejectDocument Fail state.
DOCUMENT_REJECTED = [
    {
        "type": "ExecutionFailed",
        "id": 8,
        "previousEventId": 7,
        "executionFailedEventDetails": {
            "error": "InvalidDocument",
            "cause": '{"errorMessage": "The document is empty", "errorType": "InvalidDocument"}',
        },
    },
    {
        "type": "FailStateEntered",
        "id": 7,
        "previousEventId": 6,
        "stateEnteredEventDetails": {"name": "RejectDocument"},
    },
    {
        "type": "TaskStateExited",
        "id": 6,
        "previousEventId": 5,
        "stateExitedEventDetails": {"name": "ParseDocument"},
    },
    {
        "type": "TaskFailed",
        "id": 5,
        "previousEventId": 4,
        "taskFailedEventDetails": {
            "error": "InvalidDocument",
            "cause": '{"errorMessage": "The document is empty", "errorType": "InvalidDocument"}',
        },
    },
    {"type": "TaskStarted", "id": 4, "previousEventId": 3},
    {"type": "TaskScheduled", "id": 3, "previousEventId": 2},
    {
        "type": "TaskStateEntered",
        "id": 2,
        "previousEventId": 0,
        "stateEnteredEventDetails": {"name": "ParseDocument"},
    },
    {"type": "ExecutionStarted", "id": 1, "previousEventId": 0},
]

# ticket-triage v2, {"subject": "x", "customerTier": "free", "delaySeconds": 0}.
TICKET_ROUTED = [
    {"type": "ExecutionSucceeded", "id": 16, "previousEventId": 15},
    {
        "type": "SucceedStateExited",
        "id": 15,
        "previousEventId": 14,
        "stateExitedEventDetails": {"name": "Done"},
    },
    {
        "type": "SucceedStateEntered",
        "id": 14,
        "previousEventId": 13,
        "stateEnteredEventDetails": {"name": "Done"},
    },
    {
        "type": "PassStateExited",
        "id": 13,
        "previousEventId": 12,
        "stateExitedEventDetails": {"name": "Routed"},
    },
    {
        "type": "PassStateEntered",
        "id": 12,
        "previousEventId": 11,
        "stateEnteredEventDetails": {"name": "Routed"},
    },
    {
        "type": "WaitStateExited",
        "id": 11,
        "previousEventId": 10,
        "stateExitedEventDetails": {"name": "WaitForAgentPool"},
    },
    {
        "type": "WaitStateEntered",
        "id": 10,
        "previousEventId": 9,
        "stateEnteredEventDetails": {"name": "WaitForAgentPool"},
    },
    {
        "type": "PassStateExited",
        "id": 9,
        "previousEventId": 8,
        "stateExitedEventDetails": {"name": "SelfService"},
    },
    {
        "type": "PassStateEntered",
        "id": 8,
        "previousEventId": 7,
        "stateEnteredEventDetails": {"name": "SelfService"},
    },
    {
        "type": "ChoiceStateExited",
        "id": 7,
        "previousEventId": 6,
        "stateExitedEventDetails": {"name": "Classify"},
    },
    {
        "type": "ChoiceStateEntered",
        "id": 6,
        "previousEventId": 5,
        "stateEnteredEventDetails": {"name": "Classify"},
    },
    {
        "type": "ChoiceStateExited",
        "id": 5,
        "previousEventId": 4,
        "stateExitedEventDetails": {"name": "Screen"},
    },
    {
        "type": "ChoiceStateEntered",
        "id": 4,
        "previousEventId": 3,
        "stateEnteredEventDetails": {"name": "Screen"},
    },
    {
        "type": "ChoiceStateExited",
        "id": 3,
        "previousEventId": 2,
        "stateExitedEventDetails": {"name": "CheckDelay"},
    },
    {
        "type": "ChoiceStateEntered",
        "id": 2,
        "previousEventId": 0,
        "stateEnteredEventDetails": {"name": "CheckDelay"},
    },
    {"type": "ExecutionStarted", "id": 1, "previousEventId": 0},
]

# ticket-triage v2, subject "spam offer": Screen sends it to the Reject Fail state.
TICKET_REJECTED = [
    {
        "type": "ExecutionFailed",
        "id": 7,
        "previousEventId": 6,
        "executionFailedEventDetails": {"error": "TicketRejected", "cause": "Looks like spam"},
    },
    {
        "type": "FailStateEntered",
        "id": 6,
        "previousEventId": 5,
        "stateEnteredEventDetails": {"name": "Reject"},
    },
    {
        "type": "ChoiceStateExited",
        "id": 5,
        "previousEventId": 4,
        "stateExitedEventDetails": {"name": "Screen"},
    },
    {
        "type": "ChoiceStateEntered",
        "id": 4,
        "previousEventId": 3,
        "stateEnteredEventDetails": {"name": "Screen"},
    },
    {
        "type": "ChoiceStateExited",
        "id": 3,
        "previousEventId": 2,
        "stateExitedEventDetails": {"name": "CheckDelay"},
    },
    {
        "type": "ChoiceStateEntered",
        "id": 2,
        "previousEventId": 0,
        "stateEnteredEventDetails": {"name": "CheckDelay"},
    },
    {"type": "ExecutionStarted", "id": 1, "previousEventId": 0},
]

# A Parallel state "Both" with two branches, each one Task failing InvalidDocument with
# Retry MaxAttempts 2 (three attempts each): "Modern" by lambda:invoke, "Legacy" by the Lambda's ARN.
RETRIED_DEFINITION = {
    "StartAt": "Both",
    "States": {
        "Both": {
            "Type": "Parallel",
            "End": True,
            "Branches": [
                {"StartAt": "Modern", "States": {"Modern": {"Type": "Task", "End": True}}},
                {"StartAt": "Legacy", "States": {"Legacy": {"Type": "Task", "End": True}}},
            ],
        }
    },
}
RETRIED_THEN_FAILED = [
    {
        "type": "ExecutionFailed",
        "id": 25,
        "previousEventId": 24,
        "executionFailedEventDetails": {
            "error": "InvalidDocument",
            "cause": '{"errorMessage": "The document is empty", "errorType": "InvalidDocument"}',
        },
    },
    {"type": "ParallelStateFailed", "id": 24, "previousEventId": 23},
    {
        "type": "TaskFailed",
        "id": 23,
        "previousEventId": 21,
        "taskFailedEventDetails": {
            "error": "InvalidDocument",
            "cause": '{"errorMessage": "The document is empty", "errorType": "InvalidDocument"}',
        },
    },
    {
        "type": "LambdaFunctionFailed",
        "id": 22,
        "previousEventId": 19,
        "lambdaFunctionFailedEventDetails": {
            "error": "InvalidDocument",
            "cause": '{"errorMessage": "The document is empty", "errorType": "InvalidDocument"}',
        },
    },
    {"type": "TaskStarted", "id": 21, "previousEventId": 20},
    {"type": "TaskScheduled", "id": 20, "previousEventId": 17},
    {"type": "LambdaFunctionStarted", "id": 19, "previousEventId": 18},
    {"type": "LambdaFunctionScheduled", "id": 18, "previousEventId": 16},
    {
        "type": "TaskFailed",
        "id": 17,
        "previousEventId": 13,
        "taskFailedEventDetails": {
            "error": "InvalidDocument",
            "cause": '{"errorMessage": "The document is empty", "errorType": "InvalidDocument"}',
        },
    },
    {
        "type": "LambdaFunctionFailed",
        "id": 16,
        "previousEventId": 15,
        "lambdaFunctionFailedEventDetails": {
            "error": "InvalidDocument",
            "cause": '{"errorMessage": "The document is empty", "errorType": "InvalidDocument"}',
        },
    },
    {"type": "LambdaFunctionStarted", "id": 15, "previousEventId": 14},
    {"type": "LambdaFunctionScheduled", "id": 14, "previousEventId": 11},
    {"type": "TaskStarted", "id": 13, "previousEventId": 12},
    {"type": "TaskScheduled", "id": 12, "previousEventId": 10},
    {
        "type": "LambdaFunctionFailed",
        "id": 11,
        "previousEventId": 9,
        "lambdaFunctionFailedEventDetails": {
            "error": "InvalidDocument",
            "cause": '{"errorMessage": "The document is empty", "errorType": "InvalidDocument"}',
        },
    },
    {
        "type": "TaskFailed",
        "id": 10,
        "previousEventId": 6,
        "taskFailedEventDetails": {
            "error": "InvalidDocument",
            "cause": '{"errorMessage": "The document is empty", "errorType": "InvalidDocument"}',
        },
    },
    {"type": "LambdaFunctionStarted", "id": 9, "previousEventId": 8},
    {"type": "LambdaFunctionScheduled", "id": 8, "previousEventId": 7},
    {
        "type": "TaskStateEntered",
        "id": 7,
        "previousEventId": 3,
        "stateEnteredEventDetails": {"name": "Legacy"},
    },
    {"type": "TaskStarted", "id": 6, "previousEventId": 5},
    {"type": "TaskScheduled", "id": 5, "previousEventId": 4},
    {
        "type": "TaskStateEntered",
        "id": 4,
        "previousEventId": 3,
        "stateEnteredEventDetails": {"name": "Modern"},
    },
    {"type": "ParallelStateStarted", "id": 3, "previousEventId": 2},
    {
        "type": "ParallelStateEntered",
        "id": 2,
        "previousEventId": 0,
        "stateEnteredEventDetails": {"name": "Both"},
    },
    {"type": "ExecutionStarted", "id": 1, "previousEventId": 0},
]


# Counting the nodes


@pytest.mark.parametrize(
    ("workflow", "version", "total"),
    [
        # ParseDocument, ReportSections, RejectDocument, AnalyseSections (Map) + AnalyseSection, Summarise,
        # Summarised.
        ("document-summary", 1, 7),
        # CheckDelay, DefaultDelay, Classify, Priority, Standard, SelfService, WaitForAgentPool, Routed, Done.
        ("ticket-triage", 1, 9),
        # v1's nine, plus Screen, Reject and Escalation.
        ("ticket-triage", 2, 12),
        # PickReportDate, GatherUsage, Done.
        ("nightly-report", 1, 3),
    ],
)
def test_every_shipped_definition_counts_its_states(workflow, version, total):
    assert count_nodes(definition(workflow, version)) == total


def test_a_map_counts_once_with_its_inner_states():
    assert node_names(DOCUMENT_SUMMARY) == {
        "ParseDocument",
        "ReportSections",
        "RejectDocument",
        "AnalyseSections",
        "AnalyseSection",
        "Summarise",
        "Summarised",
    }


def test_parallel_branches_and_a_legacy_iterator_count_nested_states():
    nested = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Next": "Each",
                "Branches": [
                    {
                        "StartAt": "A",
                        "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}},
                    },
                    {
                        "StartAt": "Inner",
                        "States": {
                            "Inner": {
                                "Type": "Map",
                                "End": True,
                                "ItemProcessor": {
                                    "StartAt": "C",
                                    "States": {"C": {"Type": "Pass", "End": True}},
                                },
                            }
                        },
                    },
                ],
            },
            "Each": {
                "Type": "Map",
                "End": True,
                "Iterator": {"StartAt": "D", "States": {"D": {"Type": "Pass", "End": True}}},
            },
        },
    }
    assert node_names(nested) == {"Fan", "A", "B", "Inner", "C", "Each", "D"}
    assert count_nodes(nested) == 7


def test_a_definition_without_states_counts_none():
    assert count_nodes({}) == 0
    assert progress_of({}, [], None) == Progress(0, None, 0, 0, 0, None)


# Running


def test_a_running_execution_shows_where_it_is():
    # ticket-triage waiting in WaitForAgentPool: CheckDelay, Screen, Classify and SelfService are done.
    assert progress_of(TICKET_TRIAGE, up_to(TICKET_ROUTED, 10), "RUNNING") == Progress(
        progress=33,
        current_node="WaitForAgentPool",
        completed_nodes=4,
        total_nodes=12,
        retry_count=0,
        failure=None,
    )


def test_running_needs_no_status():
    assert progress_of(TICKET_TRIAGE, up_to(TICKET_ROUTED, 10), None).current_node == "WaitForAgentPool"


def test_inside_a_map_the_current_node_is_the_inner_state():
    # Both items are in AnalyseSection; only ParseDocument has exited.
    running = progress_of(DOCUMENT_SUMMARY, up_to(DOCUMENT_SUCCEEDED, 16), None)
    assert (running.current_node, running.completed_nodes, running.progress) == ("AnalyseSection", 1, 14)


def test_one_map_item_finishing_does_not_hide_the_other():
    # Item 0 left AnalyseSection (event 18), item 1 is still in it.
    running = progress_of(DOCUMENT_SUMMARY, up_to(DOCUMENT_SUCCEEDED, 18), None)
    assert running.current_node == "AnalyseSection"
    # A state counts as completed once any pass through it exited.
    assert running.completed_nodes == 2


def test_a_state_entered_again_after_it_exited_is_current():
    loop = [
        {"type": "WaitStateEntered", "id": 4, "stateEnteredEventDetails": {"name": "Poll"}},
        {"type": "WaitStateExited", "id": 3, "stateExitedEventDetails": {"name": "Poll"}},
        {"type": "WaitStateEntered", "id": 2, "stateEnteredEventDetails": {"name": "Poll"}},
    ]
    poll = {"StartAt": "Poll", "States": {"Poll": {"Type": "Wait", "Seconds": 1, "Next": "Poll"}}}
    assert progress_of(poll, loop, None).current_node == "Poll"


def test_events_oldest_first_as_moto_returns_them_give_the_same_answer():
    oldest_first = list(reversed(up_to(DOCUMENT_SUCCEEDED, 25)))
    assert progress_of(DOCUMENT_SUMMARY, oldest_first, None) == progress_of(
        DOCUMENT_SUMMARY, up_to(DOCUMENT_SUCCEEDED, 25), None
    )
    assert progress_of(DOCUMENT_SUMMARY, oldest_first, None).current_node == "Summarise"


def test_progress_never_reaches_100_before_success():
    two_steps = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}}
    # Both states exited, but Step Functions has not said the execution succeeded yet.
    both_exited = [
        {"type": "SucceedStateExited", "id": 5, "stateExitedEventDetails": {"name": "B"}},
        {"type": "SucceedStateEntered", "id": 4, "stateEnteredEventDetails": {"name": "B"}},
        {"type": "PassStateExited", "id": 3, "stateExitedEventDetails": {"name": "A"}},
        {"type": "PassStateEntered", "id": 2, "stateEnteredEventDetails": {"name": "A"}},
    ]
    running = progress_of(two_steps, both_exited, "RUNNING")
    assert (running.progress, running.completed_nodes, running.total_nodes) == (99, 2, 2)


# Finished


def test_a_succeeded_execution_is_100_with_no_current_node():
    done = progress_of(DOCUMENT_SUMMARY, DOCUMENT_SUCCEEDED, "SUCCEEDED")
    # RejectDocument was never visited: completed counts what the execution passed through.
    assert done == Progress(100, None, 5, 7, 0, None)


def test_a_choice_skipping_branches_still_finishes_at_100():
    done = progress_of(TICKET_TRIAGE, TICKET_ROUTED, "SUCCEEDED")
    assert (done.progress, done.completed_nodes, done.total_nodes) == (100, 7, 12)


def test_flowport_status_names_are_understood():
    assert progress_of(TICKET_TRIAGE, TICKET_ROUTED, "COMPLETED").progress == 100
    cancelled = progress_of(TICKET_TRIAGE, up_to(TICKET_ROUTED, 10), "CANCELLED")
    assert (cancelled.progress, cancelled.current_node, cancelled.failure) == (33, None, None)


def test_without_a_status_the_history_says_it_succeeded():
    assert progress_of(TICKET_TRIAGE, TICKET_ROUTED, None).progress == 100


def test_an_aborted_execution_keeps_its_progress_and_has_no_failure():
    aborted = [
        {"type": "ExecutionAborted", "id": 11, "previousEventId": 10, "executionAbortedEventDetails": {}},
        *up_to(TICKET_ROUTED, 10),
    ]
    assert progress_of(TICKET_TRIAGE, aborted, "ABORTED") == Progress(33, None, 4, 12, 0, None)


# Failures


def test_a_caught_lambda_error_reports_the_fail_state_and_the_lambdas_message():
    failed = progress_of(DOCUMENT_SUMMARY, DOCUMENT_REJECTED, "FAILED")
    assert failed == Progress(
        progress=14,
        current_node=None,
        completed_nodes=1,
        total_nodes=7,
        # The TaskFailed ended ParseDocument (caught): it was not retried.
        retry_count=0,
        failure=NodeFailure(code="InvalidDocument", message="The document is empty", node="RejectDocument"),
    )


def test_a_fail_state_reports_its_error_and_cause():
    failed = progress_of(TICKET_TRIAGE, TICKET_REJECTED, "FAILED")
    assert failed.failure == NodeFailure(code="TicketRejected", message="Looks like spam", node="Reject")
    assert (failed.progress, failed.completed_nodes) == (17, 2)


def test_the_failure_is_read_from_the_history_when_no_status_is_given():
    assert progress_of(TICKET_TRIAGE, TICKET_REJECTED, None).failure == NodeFailure(
        "TicketRejected", "Looks like spam", "Reject"
    )


def test_the_failing_branch_is_named_not_the_last_state_entered():
    # "Legacy" was entered last, but the failure that ended the execution came from "Modern".
    failed = progress_of(RETRIED_DEFINITION, RETRIED_THEN_FAILED, "FAILED")
    assert failed.failure == NodeFailure("InvalidDocument", "The document is empty", "Modern")


def test_a_timeout_without_details_names_the_state_it_was_in():
    timed_out = [{"type": "ExecutionTimedOut", "id": 11, "previousEventId": 10}, *up_to(TICKET_ROUTED, 10)]
    failure = progress_of(TICKET_TRIAGE, timed_out, "TIMED_OUT").failure
    assert failure == NodeFailure(
        "States.Timeout", "The execution ran longer than its workflow allows", "WaitForAgentPool"
    )


def test_a_failure_without_history_still_says_it_failed():
    assert progress_of(TICKET_TRIAGE, [], "FAILED").failure == NodeFailure(
        "ExecutionFailed", "The execution failed", None
    )


@pytest.mark.parametrize(
    ("cause", "message"),
    [
        ("plain words", "plain words"),
        ('{"detail": "no errorMessage"}', '{"detail": "no errorMessage"}'),
        ('["a", "list"]', '["a", "list"]'),
    ],
)
def test_a_cause_that_is_not_a_lambda_error_is_kept_whole(cause, message):
    events = [
        {
            "type": "ExecutionFailed",
            "id": 2,
            "previousEventId": 1,
            "executionFailedEventDetails": {"cause": cause},
        }
    ]
    assert progress_of(TICKET_TRIAGE, events, "FAILED").failure == NodeFailure(
        "ExecutionFailed", message, None
    )


def test_a_redriven_execution_runs_again():
    redriven = [
        {"type": "ExecutionRedriven", "id": 12, "previousEventId": 11},
        {
            "type": "ExecutionFailed",
            "id": 11,
            "previousEventId": 10,
            "executionFailedEventDetails": {"error": "E"},
        },
        *up_to(TICKET_ROUTED, 10),
    ]
    running = progress_of(TICKET_TRIAGE, redriven, None)
    # Running again, and no state entered since: the runs the failure ended stay ended (the history's rule).
    assert (running.failure, running.current_node) == (None, None)
    reentered = {
        "type": "WaitStateEntered",
        "id": 13,
        "previousEventId": 12,
        "stateEnteredEventDetails": {"name": "WaitForAgentPool"},
    }
    again = progress_of(TICKET_TRIAGE, [reentered, *redriven], None)
    assert (again.failure, again.current_node) == (None, "WaitForAgentPool")


# Retries


def test_every_attempt_after_a_failed_one_is_a_retry():
    # Two branches, three attempts each: two retries each.
    assert progress_of(RETRIED_DEFINITION, RETRIED_THEN_FAILED, "FAILED").retry_count == 4


def lambda_attempts(failures: int, succeeded: bool) -> list[dict[str, Any]]:
    """A legacy Lambda task "Call": `failures` failed attempts, each retried, then one more attempt."""
    events: list[dict[str, Any]] = [
        {
            "type": "TaskStateEntered",
            "id": 2,
            "previousEventId": 1,
            "stateEnteredEventDetails": {"name": "Call"},
        }
    ]
    for _ in range(failures + 1):
        last = events[-1]["id"]
        events += [
            {"type": "LambdaFunctionScheduled", "id": last + 1, "previousEventId": last},
            {"type": "LambdaFunctionStarted", "id": last + 2, "previousEventId": last + 1},
            {
                "type": "LambdaFunctionFailed",
                "id": last + 3,
                "previousEventId": last + 2,
                "lambdaFunctionFailedEventDetails": {"error": "Lambda.ServiceException", "cause": "busy"},
            },
        ]
    if succeeded:
        events[-1] = {
            "type": "LambdaFunctionSucceeded",
            "id": events[-1]["id"],
            "previousEventId": events[-2]["id"],
        }
    return list(reversed(events))


CALL = {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": "arn:aws:lambda:x", "End": True}}}


def test_two_failed_attempts_then_a_successful_one_are_two_retries():
    running = progress_of(CALL, lambda_attempts(failures=2, succeeded=True), None)
    assert (running.retry_count, running.current_node) == (2, "Call")


def test_the_failure_that_ends_the_state_is_not_a_retry():
    # Three failed attempts: the first two were retried, the last one was not.
    assert progress_of(CALL, lambda_attempts(failures=2, succeeded=False), None).retry_count == 2


def test_a_first_attempt_is_not_a_retry():
    assert progress_of(CALL, lambda_attempts(failures=0, succeeded=True), None).retry_count == 0


# The workflow's own progress


def test_the_workflows_reported_progress_wins_while_running():
    assert progress_of(TICKET_TRIAGE, up_to(TICKET_ROUTED, 10), None, reported_progress=80).progress == 80
    assert progress_of(TICKET_TRIAGE, up_to(TICKET_ROUTED, 10), None, reported_progress=12.4).progress == 12


@pytest.mark.parametrize(
    ("reported", "status", "expected"),
    [
        (150, None, 99),
        (100, None, 99),
        (99.6, "RUNNING", 99),
        (-5, None, 0),
        (100, "FAILED", 99),
        (40, "TIMED_OUT", 40),
        (10, "SUCCEEDED", 100),
    ],
)
def test_reported_progress_is_clamped_and_100_means_succeeded(reported, status, expected):
    assert progress_of(TICKET_TRIAGE, up_to(TICKET_ROUTED, 10), status, reported).progress == expected


@pytest.mark.parametrize("unusable", [float("nan"), float("inf"), True])
def test_an_unusable_reported_progress_falls_back_to_the_count(unusable):
    assert progress_of(TICKET_TRIAGE, up_to(TICKET_ROUTED, 10), None, unusable).progress == 33
