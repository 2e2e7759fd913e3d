"""The live view's rules (flowport.core.live): one reading of the history, so every view of it agrees."""

from __future__ import annotations

from typing import Any

import pytest
from flowport.core import history, live
from flowport.core.models import ExecutionStatus

from tests.unit.test_history import MAP_REDRIVEN, NESTED_MAPS, REDRIVEN, REJECTED, RETRIED, SUCCEEDED
from tests.unit.test_progress import (
    DOCUMENT_REJECTED,
    DOCUMENT_SUMMARY,
    RETRIED_DEFINITION,
    RETRIED_THEN_FAILED,
    TICKET_REJECTED,
    TICKET_ROUTED,
    TICKET_TRIAGE,
)

HISTORIES = {
    "document-summary succeeded": (DOCUMENT_SUMMARY, SUCCEEDED),
    "document-summary rejected": (DOCUMENT_SUMMARY, REJECTED),
    "document-summary rejected, synthetic": (DOCUMENT_SUMMARY, DOCUMENT_REJECTED),
    "ticket-triage routed": (TICKET_TRIAGE, TICKET_ROUTED),
    "ticket-triage rejected": (TICKET_TRIAGE, TICKET_REJECTED),
    "parallel branches retried, then failed": (RETRIED_DEFINITION, RETRIED_THEN_FAILED),
    "retried": ({}, RETRIED),
    "nested maps": ({}, NESTED_MAPS),
    "document-summary redriven": (DOCUMENT_SUMMARY, REDRIVEN),
    "document-summary redriven in its map": (DOCUMENT_SUMMARY, MAP_REDRIVEN),
}


def prefixes(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The history as each read of it could have found it, newest first as a page comes."""
    ordered = sorted(events, key=lambda event: int(event["id"]))
    return [list(reversed(ordered[:end])) for end in range(1, len(ordered) + 1)]


@pytest.mark.parametrize("name", HISTORIES)
def test_current_node_failed_node_and_node_events_never_disagree(name: str):
    """At every point of every recorded history: the current node is a state the stream last saw
    started and not completed, and a failed execution's error names the node of its last node_failed."""
    definition, events = HISTORIES[name]
    for page in prefixes(events):
        view = live.view_of(page, definition, observed_at=0, whole=True)
        runs = history.read(page).runs
        if view.progress.current_node is not None:
            open_runs = [run.name for run in runs if run.status.value == "RUNNING"]
            assert view.progress.current_node == open_runs[-1], name
            started = [e.name for e in view.node_events if e.kind == "node_started"]
            assert view.progress.current_node in started, name
        if view.status in (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT):
            failures = [e for e in view.node_events if e.kind == "node_failed"]
            assert view.error is not None, name
            if failures:
                assert view.error.node == failures[-1].name, name


def test_a_view_of_the_newest_page_says_from_where_its_node_events_are_whole():
    newest = list(reversed(SUCCEEDED[-10:]))
    view = live.view_of(newest, DOCUMENT_SUMMARY, observed_at=0)
    oldest = min(int(event["id"]) for event in newest)
    assert view.events_from == oldest
    assert live.covers(view, oldest - 1)
    assert not live.covers(view, oldest - 2)
    whole = live.view_of(list(reversed(SUCCEEDED)), DOCUMENT_SUMMARY, observed_at=0)
    assert (whole.events_from, whole.final, whole.status) == (0, True, ExecutionStatus.COMPLETED)
    assert live.covers(whole, 0)


def test_freshness_is_a_moment_and_a_final_view_is_fresh_for_ever():
    running = live.view_of(prefixes(SUCCEEDED)[5], DOCUMENT_SUMMARY, observed_at=100.0)
    assert live.is_fresh(running, 100.9, 1.0)
    assert not live.is_fresh(running, 101.0, 1.0)
    final = live.view_of(list(reversed(SUCCEEDED)), DOCUMENT_SUMMARY, observed_at=100.0)
    assert live.is_fresh(final, 10_000.0, 1.0)


def test_long_error_messages_are_cut_in_node_events():
    failing = [
        {"id": 1, "previousEventId": 0, "type": "ExecutionStarted"},
        {
            "id": 2,
            "previousEventId": 1,
            "type": "TaskStateEntered",
            "stateEnteredEventDetails": {"name": "Call"},
        },
        {"id": 3, "previousEventId": 2, "type": "TaskScheduled"},
        {
            "id": 4,
            "previousEventId": 3,
            "type": "TaskFailed",
            "taskFailedEventDetails": {"error": "E", "cause": "x" * 5000},
        },
    ]
    view = live.view_of(list(reversed(failing)), {}, observed_at=0)
    [failed] = [event for event in view.node_events if event.kind == "node_failed"]
    assert failed.error is not None
    assert len(failed.error.message) == live.MAX_MESSAGE_CHARACTERS
    assert failed.error.message.endswith("…")


def test_a_view_says_which_attempt_it_saw_and_runs_again_after_a_redrive():
    redriven_at = next(event["id"] for event in REDRIVEN if event["type"] == "ExecutionRedriven")
    failed = live.view_of([event for event in REDRIVEN if event["id"] < redriven_at], DOCUMENT_SUMMARY, 0)
    assert (failed.status, failed.final, failed.redrive_count) == (ExecutionStatus.FAILED, True, 0)
    assert failed.error is not None
    assert failed.error.node == "Summarise"
    again = live.view_of([event for event in REDRIVEN if event["id"] <= redriven_at + 1], DOCUMENT_SUMMARY, 0)
    assert (again.status, again.final, again.redrive_count, again.error) == (
        ExecutionStatus.RUNNING,
        False,
        1,
        None,
    )
    assert again.progress.current_node == "Summarise"
    assert again.node_events[-1].kind == "node_started"
    done = live.view_of(REDRIVEN, DOCUMENT_SUMMARY, 0)
    assert (done.status, done.final, done.progress.progress, done.redrive_count) == (
        ExecutionStatus.COMPLETED,
        True,
        100,
        1,
    )
