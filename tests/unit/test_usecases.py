"""The use cases on in-memory fakes of their ports (tests/fakes.py): what each reads and writes, and when."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flowport.core.errors import CancellationInProgress, ExecutionNotCancellable, ServiceUnavailable
from flowport.core.models import ExecutionRecord, ExecutionSource, ExecutionStatus
from flowport.core.registry import Registry
from flowport.core.stream import Cursor
from flowport.core.sync import StatusChange
from flowport.usecases.admission import Admission
from flowport.usecases.cancel import CancelExecution
from flowport.usecases.live import LiveExecutions
from flowport.usecases.read import ReadExecution
from flowport.usecases.start import StartCommand, StartExecution
from flowport.usecases.sync import ApplyStatusChange

from tests.fakes import (
    Clock,
    FakeEngine,
    InMemorySlots,
    InMemoryStore,
    entered,
    started_event,
    state_events,
)
from tests.support import ADMIN, TICKET, settings_for_tests

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = Registry.load(ROOT / "statemachines")
SETTINGS = settings_for_tests(workflows_path=ROOT / "statemachines")


class World:
    """The use cases wired to fakes, as services.py wires them to AWS."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.store = InMemoryStore()
        self.engine = FakeEngine()
        self.slots = InMemorySlots()
        self.live = LiveExecutions(
            REGISTRY, self.store, self.store, self.engine, self.store, SETTINGS, self.clock
        )
        self.admission = Admission(
            REGISTRY, self.store, self.slots, self.store, self.engine, SETTINGS, clock=self.clock
        )
        self.starter = StartExecution(
            REGISTRY, self.store, self.engine, self.admission, SETTINGS, clock=self.clock
        )
        self.reader = ReadExecution(self.live, self.engine, SETTINGS.token_secret)
        self.canceller = CancelExecution(REGISTRY, self.store, self.engine, clock=self.clock)
        self.sync = ApplyStatusChange(
            self.store, self.engine, self.live, self.admission, clock=self.clock, retries=self.store
        )

    def start(self, **changes: Any) -> ExecutionRecord:
        command = StartCommand(
            workflow="ticket-triage",
            version=2,
            input={**TICKET, **changes},
            source=ExecutionSource.HTTP_POST,
            caller=ADMIN,
        )
        execution_id = self.starter.start(command).execution.execution_id
        return self.store.records[execution_id]

    def history(self, record: ExecutionRecord) -> list[dict[str, Any]]:
        return self.engine.histories[record.execution_arn]

    def change(self, record: ExecutionRecord, status: str, **detail: Any) -> StatusChange:
        millis = int(self.clock.now.timestamp() * 1000)
        return StatusChange.model_validate(
            {
                "executionArn": record.execution_arn,
                "stateMachineArn": record.state_machine_arn,
                "name": record.execution_id,
                "status": status,
                "startDate": millis - 1000,
                "stopDate": None if status == "RUNNING" else millis,
                **detail,
            }
        )


@pytest.fixture
def world() -> World:
    return World()


def waiting(world: World) -> ExecutionRecord:
    """An execution Step Functions has in its Wait state, its record told it runs."""
    record = world.start()
    world.history(record).extend([*state_events(2, "CheckDelay", "Screen", "Classify"), entered(8, "Wait")])
    assert world.sync.apply(world.change(record, "RUNNING"))
    return world.store.records[record.execution_id]


# Reading: one history read per execution per live view


def test_readers_of_a_running_execution_share_one_history_read_while_it_is_fresh(world: World):
    record = waiting(world)
    for _ in range(5):
        document = world.reader.status(record.execution_id, ADMIN)
        assert (document.status, document.current_node) == (ExecutionStatus.RUNNING, "Wait")
    assert world.engine.calls.count("history_page") == 1
    world.clock.advance(SETTINGS.live_view_seconds)
    world.reader.status(record.execution_id, ADMIN)
    assert world.engine.calls.count("history_page") == 2


def test_a_reader_that_loses_the_claim_keeps_the_stale_view_and_reads_no_history(world: World):
    record = waiting(world)
    world.reader.status(record.execution_id, ADMIN)
    world.clock.advance(SETTINGS.live_view_seconds + 1)
    now = world.clock.now.timestamp()
    assert world.store.claim_refresh(record.execution_id, now, now - 1, SETTINGS.live_view_claim_seconds)
    world.history(record).append(entered(9, "Later", "Pass"))
    stale = world.reader.status(record.execution_id, ADMIN)
    assert stale.current_node == "Wait"  # the view another reader is refreshing right now
    assert world.engine.calls.count("history_page") == 1


def test_a_finished_execution_is_read_from_its_record_alone(world: World):
    record = world.start()
    world.history(record).append({"id": 2, "previousEventId": 1, "type": "ExecutionSucceeded"})
    assert world.sync.apply(world.change(record, "SUCCEEDED", output='{"queue": "priority"}'))
    world.engine.calls.clear()
    document = world.reader.status(record.execution_id, ADMIN)
    assert (document.status, document.output) == (ExecutionStatus.COMPLETED, {"queue": "priority"})
    assert world.engine.calls == []


def test_start_time_is_one_value_from_the_first_read_to_the_end(world: World):
    record = waiting(world)
    running = world.reader.status(record.execution_id, ADMIN).started_at
    world.history(record).append({"id": 9, "previousEventId": 8, "type": "ExecutionSucceeded"})
    assert world.sync.apply(world.change(record, "SUCCEEDED", output="{}"))
    assert world.reader.status(record.execution_id, ADMIN).started_at == running


def test_an_event_stream_far_behind_the_view_catches_up_from_the_whole_history_once(world: World):
    record = waiting(world)
    world.reader.status(record.execution_id, ADMIN)
    view = world.store.views[record.execution_id]
    world.store.views[record.execution_id] = view.model_copy(
        update={"node_events": view.node_events[-1:], "events_from": view.node_events[-1].id}
    )
    _, caught_up = world.reader.events(record.execution_id, ADMIN, Cursor())
    assert [event.name for event in caught_up.events][:2] == ["CheckDelay", "CheckDelay"]
    assert world.engine.calls.count("full_history") == 1
    _, current = world.reader.events(record.execution_id, ADMIN, Cursor(event_id=7))
    assert [event.name for event in current.events] == ["Wait"]
    assert world.engine.calls.count("full_history") == 1


# Cancel: the claim, the stop, the record


def test_a_cancel_claims_stops_and_records(world: World):
    record = waiting(world)
    world.store.calls.clear()
    world.engine.calls.clear()
    result = world.canceller.cancel(record.execution_id, ADMIN)
    assert (result.cancelled, result.previous_status) == (True, ExecutionStatus.RUNNING)
    assert world.store.calls == ["claim_cancel", "finish"]
    assert world.engine.calls == ["stop"]
    with pytest.raises(ExecutionNotCancellable, match="already finished"):
        world.canceller.cancel(record.execution_id, ADMIN)


def test_a_queued_execution_step_functions_does_not_have_yet_is_cancelled_as_queued(world: World):
    record = world.start()
    del world.engine.histories[record.execution_arn]  # its start has not reached Step Functions
    result = world.canceller.cancel(record.execution_id, ADMIN)
    assert (result.cancelled, result.previous_status) == (True, ExecutionStatus.QUEUED)
    assert world.store.records[record.execution_id].status is ExecutionStatus.CANCELLED


def test_a_stop_step_functions_refuses_gives_the_claim_back(world: World):
    record = waiting(world)
    world.engine.refuse = ServiceUnavailable("busy")
    with pytest.raises(ServiceUnavailable):
        world.canceller.cancel(record.execution_id, ADMIN)
    assert world.store.records[record.execution_id].cancel_requested_at is None
    world.engine.refuse = None
    assert world.canceller.cancel(record.execution_id, ADMIN).cancelled


# Sync: forward only, the final view kept, a lost race to the end corrected


def test_the_end_of_an_execution_keeps_its_final_view_for_the_streams(world: World):
    record = waiting(world)
    world.history(record).append({"id": 9, "previousEventId": 8, "type": "ExecutionSucceeded"})
    assert world.sync.apply(world.change(record, "SUCCEEDED", output="{}"))
    final = world.store.views[record.execution_id]
    assert final.final
    finished = world.store.records[record.execution_id]
    assert finished.progress is not None
    assert (finished.progress.progress, finished.progress.current_node) == (100, None)
    world.engine.calls.clear()
    _, log = world.reader.events(record.execution_id, ADMIN, Cursor())
    assert log.ended
    assert world.engine.calls == []


def test_an_execution_that_ended_before_its_stop_keeps_its_own_end(world: World):
    record = waiting(world)
    assert world.canceller.cancel(record.execution_id, ADMIN).cancelled
    assert world.sync.apply(world.change(record, "SUCCEEDED", output='{"queue": "priority"}'))
    corrected = world.store.records[record.execution_id]
    assert (corrected.status, corrected.output) == (ExecutionStatus.COMPLETED, {"queue": "priority"})
    assert not world.sync.apply(world.change(record, "ABORTED"))


def test_a_start_that_reached_step_functions_after_its_cancel_is_stopped(world: World):
    record = world.start()
    history = world.history(record)
    del world.engine.histories[record.execution_arn]
    assert world.canceller.cancel(record.execution_id, ADMIN).cancelled
    world.engine.histories[record.execution_arn] = history  # and now it runs
    assert not world.sync.apply(world.change(record, "RUNNING"))
    assert world.engine.calls[-2:] == ["describe", "stop"]
    assert history[-1]["type"] == "ExecutionAborted"
    assert started_event() == history[0]


def test_a_cancel_under_way_is_not_called_finished(world: World):
    record = waiting(world)
    # Another cancel won the claim and has not recorded CANCELLED yet: the execution still runs.
    assert world.store.claim_cancel(record.execution_id, world.clock(), ADMIN.reach()).won
    with pytest.raises(CancellationInProgress) as raised:
        world.canceller.cancel(record.execution_id, ADMIN)
    refusal = raised.value
    assert (refusal.status, refusal.code) == (409, "cancellation_in_progress")
    assert "finished" not in refusal.title + refusal.detail
    assert refusal.extensions["execution_status"] is ExecutionStatus.RUNNING
    assert world.engine.calls.count("stop") == 0
