"""Node history from Step Functions histories: the rules of flowport.core.history.

`histories/` holds real histories recorded from moto running the shipped document-summary workflow,
trimmed of inputs, outputs and stack traces.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flowport.core import tokens
from flowport.core.errors import InvalidNextToken
from flowport.core.history import IO_CAP_BYTES, NodeError, node_runs, page, position, read
from flowport.core.models import NodeStatus

HISTORIES = Path(__file__).parent / "histories"


def recorded(name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads((HISTORIES / f"{name}.json").read_text())
    for event in events:
        event["timestamp"] = datetime.fromisoformat(event["timestamp"])
    return events


SUCCEEDED = recorded("document-summary-succeeded")
REJECTED = recorded("document-summary-rejected")


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str, NodeStatus, int]]:
    return [(run.name, run.type, run.status, run.attempts) for run in node_runs(events)]


def test_each_state_run_is_one_entry_in_the_order_they_started():
    assert summary(SUCCEEDED) == [
        ("ParseDocument", "Task", NodeStatus.SUCCEEDED, 1),
        ("ReportSections", "Task", NodeStatus.SUCCEEDED, 1),
        ("AnalyseSections", "Map", NodeStatus.SUCCEEDED, 0),
        # One run per Map item.
        ("AnalyseSection", "Task", NodeStatus.SUCCEEDED, 1),
        ("AnalyseSection", "Task", NodeStatus.SUCCEEDED, 1),
        ("Summarise", "Task", NodeStatus.SUCCEEDED, 1),
        ("Summarised", "Succeed", NodeStatus.SUCCEEDED, 0),
    ]


def test_a_map_item_and_the_map_end_when_their_own_events_say():
    runs = {(run.name, run.id): run for run in node_runs(SUCCEEDED)}
    # Item 0 entered at event 15 and exited at 23; item 1 entered at 19 and exited at 26.
    assert runs["AnalyseSection", 15].ended_at == SUCCEEDED[22]["timestamp"]
    assert runs["AnalyseSection", 19].ended_at == SUCCEEDED[25]["timestamp"]
    # The Map's exit chains to its last item's events, not to the Map: it still closes the Map.
    assert runs["AnalyseSections", 12].ended_at == SUCCEEDED[28]["timestamp"]


def test_every_run_has_its_times():
    for run in node_runs(SUCCEEDED):
        assert run.started_at is not None
        assert run.ended_at is not None
        assert run.started_at <= run.ended_at


def test_a_caught_failure_fails_its_state_and_the_fail_state_carries_the_executions_error():
    parse, reject = node_runs(REJECTED)
    assert (parse.name, parse.status, parse.attempts) == ("ParseDocument", NodeStatus.FAILED, 1)
    assert parse.error == NodeError("InvalidDocument", "The document is empty")
    assert (reject.name, reject.type, reject.status) == ("RejectDocument", "Fail", NodeStatus.FAILED)
    assert reject.error == NodeError("InvalidDocument", "The document is empty")
    assert reject.ended_at == REJECTED[-1]["timestamp"]


def test_a_running_execution_has_open_runs():
    running = [event for event in SUCCEEDED if event["id"] <= 20]
    open_runs = [run for run in node_runs(running) if run.status is NodeStatus.RUNNING]
    assert [(run.name, run.ended_at) for run in open_runs] == [
        ("AnalyseSections", None),
        ("AnalyseSection", None),
        ("AnalyseSection", None),
    ]


def event(event_id: int, previous: int, kind: str, **details: Any) -> dict[str, Any]:
    """A history event as Step Functions writes it: details under `<camelCase type>EventDetails`."""
    if kind.endswith(("StateEntered", "StateExited")):
        key = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
    else:
        key = f"{kind[0].lower()}{kind[1:]}EventDetails"
    return {"id": event_id, "previousEventId": previous, "type": kind, key: details}


RETRIED = [
    event(1, 0, "ExecutionStarted"),
    event(2, 0, "TaskStateEntered", name="Fetch", input='{"url": "x"}'),
    event(3, 2, "TaskScheduled"),
    event(4, 3, "TaskFailed", error="Lambda.ServiceException", cause="busy"),
    event(5, 4, "TaskScheduled"),
    event(6, 5, "TaskFailed", error="Lambda.ServiceException", cause="still busy"),
    event(7, 6, "TaskScheduled"),
    event(8, 7, "TaskSucceeded"),
    event(9, 8, "TaskStateExited", name="Fetch", output='{"ok": true}'),
]


def test_retries_are_attempts_of_one_run_and_a_final_success_clears_the_error():
    (fetch,) = node_runs(RETRIED)
    assert (fetch.status, fetch.attempts, fetch.error) == (NodeStatus.SUCCEEDED, 3, None)


def test_a_run_still_retrying_shows_its_last_error():
    (fetch,) = node_runs(RETRIED[:6])
    assert (fetch.status, fetch.attempts) == (NodeStatus.RUNNING, 2)
    assert fetch.error == NodeError("Lambda.ServiceException", "still busy")


@pytest.mark.parametrize(
    ("ending", "status"),
    [("ExecutionAborted", NodeStatus.CANCELLED), ("ExecutionTimedOut", NodeStatus.TIMED_OUT)],
)
def test_a_run_open_when_the_execution_ended_ends_as_the_execution_did(ending: str, status: NodeStatus):
    (fetch,) = node_runs([*RETRIED[:3], event(4, 3, ending)])
    assert fetch.status is status


def test_events_belong_to_the_state_their_chain_leads_to():
    states = read(RETRIED).states
    assert {states[i].name for i in range(2, 10)} == {"Fetch"}
    assert 1 not in states  # ExecutionStarted belongs to no state


def test_input_and_output_come_with_io_and_are_dropped_over_the_cap():
    big = json.dumps({"blob": "x" * IO_CAP_BYTES})
    events = [*RETRIED[:-1], event(9, 8, "TaskStateExited", name="Fetch", output=big)]
    (fetch,) = node_runs(events, IO_CAP_BYTES)
    assert fetch.input.text == '{"url": "x"}'
    assert fetch.output is not None
    assert (fetch.output.text, fetch.output.truncated) == (None, True)
    entry = page("e", [fetch], 0, 10, include_io=True, key=KEY).items[0]
    assert (entry.input, entry.output, entry.output_truncated) == ({"url": "x"}, None, True)
    assert page("e", [fetch], 0, 10, include_io=False, key=KEY).items[0].input is None


def test_pages_follow_each_other_without_gaps_or_repeats():
    runs = node_runs(SUCCEEDED)
    seen, token = [], None
    while True:
        result = page("e", runs, position(token, "e", KEY), 3, include_io=False, key=KEY)
        seen.extend(node.name for node in result.items)
        token = result.next_token
        if token is None:
            break
    assert seen == [run.name for run in runs]


def test_the_last_page_has_no_token():
    assert page("e", node_runs(SUCCEEDED), 0, 7, include_io=False, key=KEY).next_token is None


KEY = b"k" * 32


def _signed(document: Any, execution_id: str = "e") -> str:
    payload = base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")
    return tokens.signed(KEY, f"history/{execution_id}", payload)


@pytest.mark.parametrize(
    "token",
    [
        "not base64!",
        _signed({"after": -1}),
        _signed({"after": True}),
        _signed({"day": 1}),
        _signed([]),
        "W10",  # [], unsigned
        base64.urlsafe_b64encode(b"[" * 1500).decode(),  # nested deeper than the JSON parser goes
        "x" * (tokens.MAX_TOKEN_LENGTH + 1),
        _signed({"after": 8}).rsplit(".", 1)[0],  # a position, unsigned: as tokens were before
        _signed({"after": 8})[:-2],  # cut short
        _signed({"after": 9}).rsplit(".", 1)[0] + "." + _signed({"after": 8}).rsplit(".", 1)[1],  # forged
        _signed({"after": 8}, execution_id="other"),  # another execution's
        tokens.encode({"after": 8}, key=b"x" * 32, scope="history/e"),  # another stack's
        tokens.encode({"after": 8}, key=KEY, scope="search"),  # a search's
    ],
)
def test_a_token_this_api_did_not_write_for_this_history_is_refused(token: str):
    with pytest.raises(InvalidNextToken):
        position(token, "e", KEY)


def test_a_token_is_its_position_signed_for_its_execution():
    token = page("e", node_runs(SUCCEEDED), 0, 3, include_io=False, key=KEY).next_token
    assert token is not None
    assert position(token, "e", KEY) > 0
    with pytest.raises(InvalidNextToken):
        position(token, "e2", KEY)


def statuses(events: list[dict[str, Any]]) -> list[tuple[str, NodeStatus, str | None]]:
    return [(run.name, run.status, run.error.code if run.error else None) for run in node_runs(events)]


def test_a_map_item_failing_fails_the_map_and_stops_the_other_items_and_a_catch_goes_on():
    history = [
        event(1, 0, "ExecutionStarted"),
        event(2, 0, "MapStateEntered", name="Each"),
        event(3, 2, "MapStateStarted"),
        event(4, 3, "MapIterationStarted", index=0),
        event(5, 4, "TaskStateEntered", name="Work"),
        event(6, 3, "MapIterationStarted", index=1),
        event(7, 6, "TaskStateEntered", name="Work"),
        event(8, 5, "TaskScheduled"),
        event(9, 7, "TaskScheduled"),
        event(10, 8, "TaskFailed", error="Boom", cause="item 0 broke"),
        event(11, 10, "MapIterationFailed", index=0),
        event(12, 11, "MapStateFailed"),
        event(13, 12, "MapStateExited", name="Each"),  # caught
        event(14, 13, "PassStateEntered", name="Recover"),
        event(15, 14, "PassStateExited", name="Recover"),
        event(16, 15, "ExecutionSucceeded"),
    ]
    assert statuses(history) == [
        ("Each", NodeStatus.FAILED, "Boom"),
        ("Work", NodeStatus.FAILED, "Boom"),
        ("Work", NodeStatus.CANCELLED, None),
        ("Recover", NodeStatus.SUCCEEDED, None),
    ]


def test_a_failed_parallel_branch_fails_the_parallel_and_cancels_the_branch_still_running():
    history = [
        event(1, 0, "ExecutionStarted"),
        event(2, 0, "ParallelStateEntered", name="Fan"),
        event(3, 2, "ParallelStateStarted"),
        event(4, 3, "PassStateEntered", name="A"),
        event(5, 4, "PassStateExited", name="A"),
        event(6, 3, "WaitStateEntered", name="C"),
        event(7, 3, "TaskStateEntered", name="B"),
        event(8, 7, "TaskScheduled"),
        event(9, 8, "TaskFailed", error="X", cause="b broke"),
        event(10, 9, "ParallelStateFailed"),
        event(11, 10, "ExecutionFailed", error="X", cause="b broke"),
    ]
    assert statuses(history) == [
        ("Fan", NodeStatus.FAILED, "X"),
        ("A", NodeStatus.SUCCEEDED, None),
        ("C", NodeStatus.CANCELLED, None),
        ("B", NodeStatus.FAILED, "X"),
    ]


NESTED_MAPS = [
    event(1, 0, "ExecutionStarted"),
    event(2, 0, "MapStateEntered", name="Outer"),
    event(3, 2, "MapStateStarted"),
    event(4, 3, "MapIterationStarted", index=0),
    event(5, 4, "MapStateEntered", name="Inner"),
    event(6, 3, "MapIterationStarted", index=1),
    event(7, 6, "MapStateEntered", name="Inner"),
    event(8, 5, "MapStateStarted"),
    event(9, 8, "MapIterationStarted", index=0),
    event(10, 9, "PassStateEntered", name="P"),
    event(11, 10, "PassStateExited", name="P"),
    event(12, 11, "MapIterationSucceeded", index=0),
    event(13, 12, "MapStateSucceeded"),
    event(14, 12, "MapStateExited", name="Inner"),
    event(15, 14, "MapIterationSucceeded", index=0),
]


def test_an_inner_maps_exit_closes_its_own_run_not_a_namesakes_in_another_item():
    runs = {run.id: run for run in node_runs(NESTED_MAPS)}
    assert runs[5].status is NodeStatus.SUCCEEDED  # the first item's Inner, which ran P
    assert runs[7].status is NodeStatus.RUNNING  # the second item's Inner, not started yet
    assert runs[2].status is NodeStatus.RUNNING


def test_a_timeout_with_a_map_open_times_out_the_open_runs():
    timed_out = [*NESTED_MAPS, event(16, 15, "ExecutionTimedOut", error="States.Timeout")]
    runs = {run.id: run for run in node_runs(timed_out)}
    assert (runs[2].status, runs[7].status, runs[5].status) == (
        NodeStatus.TIMED_OUT,
        NodeStatus.TIMED_OUT,
        NodeStatus.SUCCEEDED,
    )
    assert runs[7].ended_at == timed_out[-1].get("timestamp")


def test_a_redriven_execution_runs_again():
    failed = [*RETRIED[:4], event(5, 4, "ExecutionFailed", error="Lambda.ServiceException", cause="busy")]
    assert statuses(failed) == [("Fetch", NodeStatus.FAILED, "Lambda.ServiceException")]
    redriven = [
        *failed,
        event(6, 5, "ExecutionRedriven"),
        event(7, 6, "TaskStateEntered", name="Fetch"),
        event(8, 7, "TaskScheduled"),
    ]
    assert statuses(redriven) == [
        ("Fetch", NodeStatus.FAILED, "Lambda.ServiceException"),
        ("Fetch", NodeStatus.RUNNING, None),
    ]


# Redriven executions (a retry: flowport.core.retry), recorded from local mode's RedriveExecution
REDRIVEN = recorded("document-summary-redriven")  # its Summarise's Lambda timed out once
MAP_REDRIVEN = recorded("document-summary-map-redriven")  # an AnalyseSection's Lambda timed out once


def test_a_redriven_history_lists_every_attempts_runs_and_ends_as_its_last_attempt():
    assert summary(REDRIVEN) == [
        ("ParseDocument", "Task", NodeStatus.SUCCEEDED, 1),
        ("ReportSections", "Task", NodeStatus.FAILED, 1),  # caught: the run failed, the workflow went on
        ("AnalyseSections", "Map", NodeStatus.SUCCEEDED, 0),
        ("AnalyseSection", "Task", NodeStatus.SUCCEEDED, 1),
        ("AnalyseSection", "Task", NodeStatus.SUCCEEDED, 1),
        # The attempt that failed, then the redriven one: the states that succeeded did not run again.
        ("Summarise", "Task", NodeStatus.FAILED, 1),
        ("Summarise", "Task", NodeStatus.SUCCEEDED, 1),
        ("Summarised", "Succeed", NodeStatus.SUCCEEDED, 0),
    ]
    failed, again = (run for run in node_runs(REDRIVEN) if run.name == "Summarise")
    assert failed.error is not None
    assert failed.error.code == "Sandbox.Timedout"
    assert failed.ended_at is not None
    assert again.started_at is not None
    assert failed.ended_at <= again.started_at
    reading = read(REDRIVEN)
    assert (reading.ended, reading.redrive_count, reading.failed_node, reading.error) == (
        NodeStatus.SUCCEEDED,
        1,
        None,
        None,
    )


def test_until_the_redriven_attempt_ends_the_execution_runs_and_its_first_end_is_history():
    redriven_at = next(event["id"] for event in REDRIVEN if event["type"] == "ExecutionRedriven")
    just_redriven = [event for event in REDRIVEN if event["id"] <= redriven_at]
    reading = read(just_redriven)
    assert (reading.ended, reading.error, reading.redrive_count) == (None, None, 1)
    # The failed attempt's run stays as it ended; none is running until the redrive enters a state.
    assert [(run.name, run.status) for run in reading.runs][-1] == ("Summarise", NodeStatus.FAILED)
    re_entered = [event for event in REDRIVEN if event["id"] <= redriven_at + 1]
    assert [(run.name, run.status) for run in node_runs(re_entered)][-2:] == [
        ("Summarise", NodeStatus.FAILED),
        ("Summarise", NodeStatus.RUNNING),
    ]


def test_a_redriven_map_runs_again_as_a_whole_in_local_mode():
    """AWS runs again only a Map's failed iterations; local mode (flowport.local.redrive) the whole Map.
    Either way each Map run and its items are their own runs."""
    maps = [(run.name, run.status) for run in node_runs(MAP_REDRIVEN) if run.type == "Map"]
    assert maps == [("AnalyseSections", NodeStatus.FAILED), ("AnalyseSections", NodeStatus.SUCCEEDED)]
    items = [run.status for run in node_runs(MAP_REDRIVEN) if run.name == "AnalyseSection"]
    assert items == [NodeStatus.FAILED, NodeStatus.SUCCEEDED, NodeStatus.SUCCEEDED, NodeStatus.SUCCEEDED]
    assert read(MAP_REDRIVEN).ended is NodeStatus.SUCCEEDED


def test_each_redrive_counts_from_its_event_or_by_one_without_it():
    events = [
        *RETRIED[:4],
        event(5, 4, "ExecutionFailed", error="Lambda.ServiceException"),
        event(6, 5, "ExecutionRedriven", redriveCount=1),
        event(7, 6, "TaskStateEntered", name="Fetch"),
        event(8, 7, "TaskFailed", error="Lambda.ServiceException"),
        event(9, 8, "ExecutionFailed", error="Lambda.ServiceException"),
        {"id": 10, "previousEventId": 9, "type": "ExecutionRedriven"},
    ]
    assert read(events).redrive_count == 2
    assert read(events[:6]).redrive_count == 1
    assert read(events[:5]).redrive_count == 0
