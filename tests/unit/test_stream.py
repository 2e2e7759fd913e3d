"""The event stream's rules (flowport.core.stream): what a client at a given position has not seen yet."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flowport.core import live, stream, tokens
from flowport.core.errors import InvalidLastEventId
from flowport.core.models import ExecutionDetail, ExecutionLinks, ExecutionSource, ExecutionStatus
from flowport.core.stream import Cursor, EventIds, NodeLog, StreamEvent, render, wait_for_events
from flowport.core.stream import events_after as events_after_log

from tests.unit.test_history import REJECTED, SUCCEEDED


def detail(status: str = "RUNNING", progress: int = 0, **variables: Any) -> ExecutionDetail:
    return ExecutionDetail(
        execution_id="e1",
        workflow="document-summary",
        version=1,
        status=ExecutionStatus(status),
        priority=0,
        created_at=datetime(2026, 11, 23, tzinfo=UTC),
        links=ExecutionLinks.model_validate({"self": "/executions/e1", "cancel": "/executions/e1"}),
        source=ExecutionSource.HTTP_POST,
        progress=progress,
        completed_nodes=0,
        total_nodes=7,
        retry_count=0,
        status_variables=variables,
    )


KEY = b"k" * 32
IDS = EventIds(KEY, "e1")


def events_after(
    cursor: Cursor, execution: ExecutionDetail, history: list[dict[str, Any]]
) -> tuple[list[StreamEvent], Cursor]:
    """What a client at `cursor` gets, the execution's node log read from this history."""
    return events_after_log(cursor, execution, live.node_log(history), IDS)


def up_to(last_id: int) -> list[dict[str, Any]]:
    return [event for event in SUCCEEDED if event["id"] <= last_id]


def types(events: list[StreamEvent]) -> list[str]:
    return [event.type for event in events]


def test_a_first_connection_gets_the_history_so_far_then_the_current_snapshots():
    events, cursor = events_after(Cursor(), detail(), up_to(7))
    assert types(events) == [
        "node_started",
        "node_completed",
        "node_started",
        "status",
        "progress",
        "variables",
    ]
    assert events[0].data == {"name": "ParseDocument", "type": "Task", "at": "2026-11-23T16:38:11.026000Z"}
    assert events[-1].data == {"statusVariables": {}}
    assert IDS.of(cursor) == events[-1].id


def test_every_event_id_is_the_position_after_it_and_parses_back():
    events, _ = events_after(Cursor(), detail("COMPLETED", 100), SUCCEEDED)
    assert len({event.id for event in events}) == len(events)
    for event in events:
        assert IDS.of(IDS.parse(event.id)) == event.id


def test_a_failed_attempt_is_a_node_failed_event_with_its_error():
    events, _ = events_after(Cursor(), detail("FAILED"), REJECTED)
    failed = next(event for event in events if event.type == "node_failed")
    assert failed.data["name"] == "ParseDocument"
    assert failed.data["error"] == {"code": "InvalidDocument", "message": "The document is empty"}
    assert types(events)[-1] == "failed"


def test_the_final_event_carries_the_status_document_and_nothing_follows_it():
    finished = detail("COMPLETED", 100, title="Quarterly report")
    events, cursor = events_after(Cursor(), finished, SUCCEEDED)
    assert events[-1].type == "completed"
    assert events[-1].data["statusVariables"] == {"title": "Quarterly report"}
    assert cursor.final
    assert IDS.parse(events[-1].id) == cursor
    assert events_after(cursor, finished, SUCCEEDED) == ([], cursor)


@pytest.mark.parametrize(
    ("status", "final"),
    [
        ("COMPLETED", "completed"),
        ("FAILED", "failed"),
        ("TIMED_OUT", "timed_out"),
        ("CANCELLED", "cancelled"),
    ],
)
def test_each_way_of_ending_has_its_final_event(status: str, final: str):
    assert types(events_after(Cursor(), detail(status), [])[0])[-1] == final


# What a client sees over time: the execution looked at six times, a change between each look.
LOOKS = [
    (detail(), up_to(2)),
    (detail(progress=14), up_to(11)),
    (detail(progress=14, title="Quarterly report"), up_to(20)),
    (detail(progress=29, title="Quarterly report", sectionCount=2), up_to(26)),
    (detail(progress=57, title="Quarterly report", sectionCount=2), up_to(34)),
    (detail("COMPLETED", 100, title="Quarterly report", sectionCount=2), SUCCEEDED),
]


def watch_continuously() -> list[tuple[int, StreamEvent]]:
    """Every event a client connected throughout gets, with the look that sent it."""
    seen: list[tuple[int, StreamEvent]] = []
    cursor = Cursor()
    for look_index, look in enumerate(LOOKS):
        events, cursor = events_after(cursor, *look)
        seen.extend((look_index, event) for event in events)
    return seen


def is_node_event(event: StreamEvent) -> bool:
    return event.type.startswith("node_")


def test_a_client_connected_throughout_sees_every_change_once():
    seen = [event for _, event in watch_continuously()]
    assert len({event.id for event in seen}) == len(seen)
    assert len([event for event in seen if is_node_event(event)]) == 14  # 7 runs entered, 7 exited
    assert [event.data["progress"] for event in seen if event.type == "progress"] == [0, 14, 29, 57, 100]
    assert seen[-1].type == "completed"


@pytest.mark.parametrize("comes_back_later", [False, True])
def test_a_client_that_reconnects_after_any_event_loses_nothing_and_sees_nothing_twice(
    comes_back_later: bool,
):
    continuous = watch_continuously()
    for position, (look_index, last_seen) in enumerate(continuous):
        # The connection dropped right after `last_seen`; the client reconnects with its id at once (the
        # same look) or after the execution moved on (the next look).
        cursor = IDS.parse(last_seen.id)
        resumed: list[StreamEvent] = []
        for look in LOOKS[look_index + comes_back_later :] or LOOKS[-1:]:
            events, cursor = events_after(cursor, *look)
            resumed.extend(events)
        missed = [event for _, event in continuous[position + 1 :]]
        assert [(e.type, e.data) for e in resumed if is_node_event(e)] == [
            (e.type, e.data) for e in missed if is_node_event(e)
        ]
        already_seen = [event for _, event in continuous[: position + 1]]
        for kind in ("status", "progress", "variables"):
            last_of_kind = next((e.data for e in reversed(already_seen) if e.type == kind), None)
            first_again = next((e.data for e in resumed if e.type == kind), None)
            assert first_again is None or first_again != last_of_kind, f"{kind} sent twice"
        for kind in ("status", "progress", "variables"):  # and every change did arrive
            latest = next(e.data for e in reversed(already_seen + resumed) if e.type == kind)
            assert latest == next(e.data for _, e in reversed(continuous) if e.type == kind)
        if last_seen.type != "completed":
            assert resumed[-1].type == "completed"
        else:
            assert resumed == []


def test_an_id_is_its_position_signed_for_its_execution():
    cursor = Cursor(7, ("abcdef01", "", "0123abcd"))
    event_id = IDS.of(cursor)
    position, signature = event_id.rsplit(".", 1)
    assert position == "7.abcdef01..0123abcd"
    assert len(signature) == 16
    assert IDS.of(cursor) == event_id  # stable: the same position is always the same id
    assert len(IDS.of(Cursor(999_999_999, ("abcdef01",) * 3, final=True))) <= stream.MAX_EVENT_ID_LENGTH
    assert IDS.parse(f"  {event_id} ") == cursor


SENT = IDS.of(Cursor(7, ("abcdef01", "", "0123abcd")))


@pytest.mark.parametrize(
    "bad",
    [
        "garbage",
        "1.2.3.4",
        "12.zzzzzzzz..",
        "-1...",
        "1234567890...",
        "1.abcdef01.abcdef01.abcdef01.fin",
        "7.abcdef01..0123abcd",  # a position without its signature: what ids were before they were signed
        SENT[:-1],  # cut short
        SENT.rsplit(".", 1)[0] + ".",
        "8" + SENT[1:],  # another position under this one's signature
        SENT.replace("7.abcdef01..0123abcd", "7.abcdef01..0123abcd.end"),
        EventIds(KEY, "e2").of(Cursor(7, ("abcdef01", "", "0123abcd"))),  # another execution's id
        EventIds(b"x" * 32, "e1").of(Cursor(7, ("abcdef01", "", "0123abcd"))),  # another stack's
        tokens.signed(KEY, "events/e1", "1.2.3.4", stream.EVENT_ID_MAC_BYTES),  # signed, but no position
    ],
)
def test_an_id_this_stream_did_not_send_is_refused(bad: str):
    with pytest.raises(InvalidLastEventId):
        IDS.parse(bad)


def test_no_id_is_the_start():
    assert IDS.parse(None) == IDS.parse("") == Cursor()


def test_a_body_is_event_stream_text_ending_with_a_retry_hint():
    body = render([StreamEvent("status", "0.abcdef01..", {"status": "RUNNING"})], retry_ms=1500)
    assert body == 'id: 0.abcdef01..\nevent: status\ndata: {"status":"RUNNING"}\n\nretry: 1500\n\n'
    assert render([], retry_ms=1000) == ": no new events\n\nretry: 1000\n\n"


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.sleeps += 1


def test_waiting_returns_at_once_when_there_is_news():
    time = FakeTime()
    events = wait_for_events(
        lambda _cursor: (detail(), live.node_log(up_to(2))),
        Cursor(),
        IDS,
        max_seconds=25,
        poll_seconds=1,
        clock=lambda: time.now,
        sleep=time.sleep,
    )
    assert events
    assert time.sleeps == 0


def test_waiting_without_news_looks_every_poll_and_gives_up_at_the_bound():
    time = FakeTime()
    _, cursor = events_after(Cursor(), detail(), up_to(2))
    looks = []

    def observe(_cursor: Cursor) -> tuple[ExecutionDetail, NodeLog]:
        looks.append(time.now)
        return detail(), live.node_log(up_to(2))

    events = wait_for_events(
        observe, cursor, IDS, max_seconds=25, poll_seconds=1, clock=lambda: time.now, sleep=time.sleep
    )
    assert events == []
    assert looks == [float(second) for second in range(26)]
    assert time.now <= 25


def test_waiting_returns_the_news_of_a_later_look():
    time = FakeTime()
    _, cursor = events_after(Cursor(), detail(), up_to(2))
    events = wait_for_events(
        lambda _cursor: (detail(), live.node_log(up_to(2 if time.now < 3 else 6))),
        cursor,
        IDS,
        max_seconds=25,
        poll_seconds=1,
        clock=lambda: time.now,
        sleep=time.sleep,
    )
    assert types(events) == ["node_completed"]
    assert time.now == 3


def test_the_final_event_waits_for_the_history_to_show_the_end():
    # The record says COMPLETED (the sync was quick) but the history read lags behind.
    events, cursor = events_after(Cursor(), detail("COMPLETED", 100), up_to(34))
    assert "completed" not in types(events)
    assert not cursor.final
    events, cursor = events_after(cursor, detail("COMPLETED", 100), SUCCEEDED)
    assert types(events) == ["node_started", "node_completed", "completed"]


def test_an_execution_that_never_started_ends_without_a_history():
    assert types(events_after(Cursor(), detail("CANCELLED"), [])[0]) == [
        "status",
        "progress",
        "variables",
        "cancelled",
    ]


def test_the_state_an_execution_failed_in_gets_a_node_failed_event():
    events, _ = events_after(Cursor(), detail("FAILED"), REJECTED)
    failures = [(e.data["name"], e.data["error"]["code"]) for e in events if e.type == "node_failed"]
    assert failures == [("ParseDocument", "InvalidDocument"), ("RejectDocument", "InvalidDocument")]


def test_variables_of_any_stored_type_are_json_in_the_event():
    events, _ = events_after(Cursor(), detail(tags=["a", "b"], ratio=0.5), [])
    assert events[-1].data == {"statusVariables": {"tags": ["a", "b"], "ratio": 0.5}}
    assert '"tags":["a","b"]' in render(events, 1000)
