"""In-memory fakes of the core's ports (flowport.core.ports), for unit tests of the use cases: no moto, no
threads, a clock the test moves. They keep the ports' contracts (conditions, expiry), not DynamoDB's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flowport.core.admission import Hold, Holder
from flowport.core.errors import ExecutionNotRetryable, ServiceUnavailable
from flowport.core.identity import Reach
from flowport.core.models import (
    MAX_RERUNS_NOTED,
    ExecutionRecord,
    ExecutionStatus,
    IdempotencyKeyRecord,
    LiveView,
)
from flowport.core.ports import CancelClaim, KeyTaken, RetryKeyTaken, Slots
from flowport.core.retry import CLAIMABLE, RetryKeyRecord
from flowport.core.status import Observation

START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class InMemoryStore:
    """ExecutionStore, RetryRecords, LiveViewStore and WorkflowQueue in one, as the table (and its queue
    index) holds them all; the queue is read consistently here, unlike DynamoDB's index."""

    records: dict[str, ExecutionRecord] = field(default_factory=dict)
    keys: dict[str, IdempotencyKeyRecord] = field(default_factory=dict)
    retry_keys: dict[str, RetryKeyRecord] = field(default_factory=dict)
    views: dict[str, LiveView] = field(default_factory=dict)
    claims: dict[str, float] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    # ExecutionStore

    def create(
        self,
        record: ExecutionRecord,
        key: IdempotencyKeyRecord | None,
        now: float,
        replaces_generation: int | None = None,
        search_keys: Mapping[str, str] | None = None,
    ) -> None:
        self.calls.append("create")
        if key is not None:
            existing = self.keys.get(key.key_hash)
            if replaces_generation is None:
                if existing is not None and existing.expires_at >= now:
                    raise KeyTaken(existing)
            elif existing is None or existing.generation != replaces_generation:
                raise KeyTaken(existing)
            self.keys[key.key_hash] = key
        self.records[record.execution_id] = record

    def get(self, execution_id: str, now: float) -> ExecutionRecord | None:
        self.calls.append("get")
        return self._live(execution_id, now)

    def _live(self, execution_id: str, now: float) -> ExecutionRecord | None:
        record = self.records.get(execution_id)
        return record if record is not None and record.expires_at >= now else None

    def get_many(self, execution_ids: Sequence[str], now: float) -> dict[str, ExecutionRecord]:
        self.calls.append("get_many")
        found = {execution_id: self._live(execution_id, now) for execution_id in execution_ids}
        return {execution_id: record for execution_id, record in found.items() if record is not None}

    def take_over_start(self, key: IdempotencyKeyRecord, lease_until: float) -> bool:
        current = self.keys.get(key.key_hash)
        if current is None or current.lease_until != key.lease_until:
            return False
        self.keys[key.key_hash] = current.model_copy(update={"lease_until": lease_until})
        return True

    def release_start(self, key_hash: str, execution_id: str) -> bool:
        current = self.keys.get(key_hash)
        if current is None or current.execution_id != execution_id:
            return False
        self.keys[key_hash] = current.model_copy(update={"lease_until": 0})
        return True

    def claim_cancel(self, execution_id: str, now: datetime, reach: Reach) -> CancelClaim:
        self.calls.append("claim_cancel")
        record = self._live(execution_id, now.timestamp())
        if record is None:
            return CancelClaim(False, None)
        out_of_reach = (reach.workflows is not None and record.workflow not in reach.workflows) or (
            reach.started_by is not None and record.started_by != reach.started_by
        )
        if out_of_reach or record.status.is_terminal or record.cancel_requested_at is not None:
            return CancelClaim(False, record)
        claimed = record.model_copy(update={"cancel_requested_at": now})
        self.records[execution_id] = claimed
        return CancelClaim(True, claimed)

    def withdraw_cancel(self, execution_id: str) -> bool:
        self.calls.append("withdraw_cancel")
        record = self.records[execution_id]
        self.records[execution_id] = record.model_copy(update={"cancel_requested_at": None})
        return True

    def finish(self, record: ExecutionRecord, after_cancel: bool = False) -> bool:
        self.calls.append("finish")
        current = self.records.get(record.execution_id)
        if current is None:
            return False
        if after_cancel and current.status is not ExecutionStatus.CANCELLED:
            return False
        if not after_cancel and current.status.is_terminal:
            return False
        if current.redrive_count != record.redrive_count:  # a writer of another attempt
            return False
        self.records[record.execution_id] = record.model_copy(
            update={"cancel_requested_at": current.cancel_requested_at, "queue_order": None}
        )
        return True

    def mark_running(self, record: ExecutionRecord) -> bool:
        current = self.records.get(record.execution_id)
        if current is None or current.status is not ExecutionStatus.QUEUED:
            return False
        self.records[record.execution_id] = current.model_copy(
            update={"status": ExecutionStatus.RUNNING, "started_at": record.started_at}
        )
        return True

    def note_rerun(self, execution_id: str, rerun_id: str) -> bool:
        self.calls.append("note_rerun")
        current = self.records.get(execution_id)
        if current is None or rerun_id in current.reruns or len(current.reruns) >= MAX_RERUNS_NOTED:
            return False
        self.records[execution_id] = current.model_copy(update={"reruns": [*current.reruns, rerun_id]})
        return True

    def enqueue(self, record: ExecutionRecord) -> bool:
        self.calls.append("enqueue")
        current = self.records.get(record.execution_id)
        if (
            current is None
            or current.status is not ExecutionStatus.QUEUED
            or current.cancel_requested_at is not None
            or current.waiting
            or current.dispatched_at is not None
        ):
            return False
        self.records[record.execution_id] = current.model_copy(
            update={key: getattr(record, key) for key in ("queue_order", "queued_at", "expires_at")}
        )
        return True

    def claim_dispatch(self, execution_id: str, queue_order: str, now: datetime) -> ExecutionRecord | None:
        self.calls.append("claim_dispatch")
        current = self.records.get(execution_id)
        if (
            current is None
            or current.queue_order != queue_order
            or current.status is not ExecutionStatus.QUEUED
            or current.cancel_requested_at is not None
        ):
            return None
        claimed = current.model_copy(update={"queue_order": None, "dispatched_at": now})
        self.records[execution_id] = claimed
        return claimed

    def finish_waiting(self, record: ExecutionRecord, queue_order: str) -> bool:
        self.calls.append("finish_waiting")
        current = self.records.get(record.execution_id)
        if current is None or current.queue_order != queue_order or current.cancel_requested_at is not None:
            return False
        self.records[record.execution_id] = record.model_copy(update={"queue_order": None})
        return True

    # WorkflowQueue

    def _queue(self, workflow: str) -> list[str]:
        return sorted(
            record.queue_order
            for record in self.records.values()
            if record.workflow == workflow and record.queue_order is not None
        )

    def head(self, workflow: str, count: int) -> list[str]:
        self.calls.append("queue_head")
        return self._queue(workflow)[:count]

    def ahead_of(self, workflow: str, queue_order: str) -> int:
        self.calls.append("queue_ahead_of")
        return sum(1 for order in self._queue(workflow) if order < queue_order)

    def orders(self, workflow: str) -> list[str]:
        self.calls.append("queue_orders")
        return self._queue(workflow)

    def length(self, workflow: str) -> int:
        self.calls.append("queue_length")
        return len(self._queue(workflow))

    # RetryRecords

    def restart(self, record: ExecutionRecord, from_attempt: int | None) -> bool:
        self.calls.append("restart")
        current = self.records.get(record.execution_id)
        if current is None:
            return False
        if from_attempt is None:
            if current.redrive_count >= record.redrive_count:
                return False
        elif current.status not in CLAIMABLE or current.redrive_count != from_attempt:
            return False
        self.records[record.execution_id] = record
        key = self.keys.get(record.idempotency_key_hash or "")
        if key is not None and key.execution_id == record.execution_id:
            self.keys[key.key_hash] = key.model_copy(
                update={"status": ExecutionStatus.RUNNING, "expires_at": record.expires_at}
            )
        return True

    def create_key(self, key: RetryKeyRecord, now: float, replaces_generation: int | None = None) -> None:
        self.calls.append("create_key")
        existing = self.retry_keys.get(key.key_hash)
        if replaces_generation is None:
            if existing is not None and existing.expires_at >= now:
                raise RetryKeyTaken(existing)
        elif existing is None or existing.generation != replaces_generation:
            raise RetryKeyTaken(existing)
        self.retry_keys[key.key_hash] = key

    def take_over_key(self, key: RetryKeyRecord, lease_until: float) -> bool:
        current = self.retry_keys.get(key.key_hash)
        if current is None or (current.lease_until, current.generation) != (key.lease_until, key.generation):
            return False
        self.retry_keys[key.key_hash] = current.model_copy(update={"lease_until": lease_until})
        return True

    def release_key(self, key: RetryKeyRecord) -> None:
        self.calls.append("release_key")
        current = self.retry_keys.get(key.key_hash)
        if current is not None and current.generation == key.generation:
            self.retry_keys[key.key_hash] = current.model_copy(update={"expires_at": 0})

    # LiveViewStore

    def read(
        self, execution_id: str, now: float, finished_view: bool = False
    ) -> tuple[ExecutionRecord | None, LiveView | None]:
        self.calls.append("read")
        record = self._live(execution_id, now)
        if record is None or (record.status.is_terminal and not finished_view):
            return record, None
        return record, self.views.get(execution_id)

    def claim_refresh(
        self, execution_id: str, now: float, stale_before: float, claim_seconds: float, attempt: int = 0
    ) -> bool:
        self.calls.append("claim_refresh")
        view = self.views.get(execution_id)
        earlier = view is not None and view.redrive_count < attempt
        if view is not None and not earlier and (view.final or view.observed_at > stale_before):
            return False
        if self.claims.get(execution_id, 0) >= now:
            return False
        self.claims[execution_id] = now + claim_seconds
        return True

    def put(self, execution_id: str, view: LiveView, expires_at: int) -> None:
        self.calls.append("put_view")
        current = self.views.get(execution_id)
        if current is None or not current.final or current.redrive_count < view.redrive_count:
            self.views[execution_id] = view
        self.claims.pop(execution_id, None)


@dataclass
class InMemorySlots:
    """SlotStore: each workflow's holders, taken and freed under the same conditions as DynamoDB's."""

    holders: dict[str, dict[str, Holder]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def take(self, workflow: str, holder: Holder, limit: int | None) -> Hold:
        self.calls.append("take")
        held = self.holders.setdefault(workflow, {})
        if holder.execution_id in held:
            return Hold.HELD if held[holder.execution_id].attempt == holder.attempt else Hold.REFUSED
        if limit is not None and len(held) >= limit:
            return Hold.REFUSED
        held[holder.execution_id] = holder
        return Hold.TAKEN

    def release(self, workflow: str, execution_id: str, attempt: int) -> bool:
        self.calls.append("release")
        held = self.holders.setdefault(workflow, {})
        if execution_id not in held or held[execution_id].attempt != attempt:
            return False
        del held[execution_id]
        return True

    def hand_over(self, workflow: str, freed: Holder, successor: Holder) -> bool:
        self.calls.append("hand_over")
        held = self.holders.setdefault(workflow, {})
        current = held.get(freed.execution_id)
        if current is None or current.attempt != freed.attempt or successor.execution_id in held:
            return False
        del held[freed.execution_id]
        held[successor.execution_id] = successor
        return True

    def renew(self, workflow: str, holder: Holder, from_attempt: int) -> bool:
        self.calls.append("renew")
        held = self.holders.setdefault(workflow, {})
        current = held.get(holder.execution_id)
        if current is None or current.attempt != from_attempt:
            return False
        held[holder.execution_id] = holder
        return True

    def read(self, workflow: str) -> Slots:
        self.calls.append("read_slots")
        return Slots(tuple(sorted(self.holders.get(workflow, {}).values(), key=lambda holder: holder.since)))

    def running(self, workflow: str) -> set[str]:
        return set(self.holders.get(workflow, {}))


_ENDS = {
    "ExecutionSucceeded": ExecutionStatus.COMPLETED,
    "ExecutionFailed": ExecutionStatus.FAILED,
    "ExecutionTimedOut": ExecutionStatus.TIMED_OUT,
    "ExecutionAborted": ExecutionStatus.CANCELLED,
}


@dataclass
class FakeEngine:
    """Step Functions as a test scripts it: each execution's history, growing as the test appends."""

    histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    refuse: ServiceUnavailable | None = None  # what every call raises, when set
    redrive_tokens: dict[str, list[str]] = field(default_factory=dict)  # by execution, oldest first

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if self.refuse is not None:
            raise self.refuse

    def start(self, state_machine_arn: str, name: str, input_json: str) -> None:
        self._call("start")
        arn = f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
        self.histories.setdefault(arn, [started_event()])

    def describe(self, execution_arn: str) -> Observation | None:
        self._call("describe")
        if execution_arn not in self.histories:
            return None
        events = self.histories[execution_arn]
        status = _ENDS.get(events[-1]["type"], ExecutionStatus.RUNNING) if events else ExecutionStatus.RUNNING
        return Observation(status, START, None, self.outputs.get(execution_arn), None)

    def history_page(self, execution_arn: str) -> list[dict[str, Any]] | None:
        self._call("history_page")
        events = self.histories.get(execution_arn)
        return list(reversed(events[-1000:])) if events is not None else None

    def full_history(self, execution_arn: str, include_data: bool) -> list[dict[str, Any]] | None:
        self._call("full_history")
        events = self.histories.get(execution_arn)
        return list(events) if events is not None else None

    def stop(self, execution_arn: str, cause: str) -> bool:
        self._call("stop")
        if execution_arn not in self.histories:
            return False
        events = self.histories[execution_arn]
        events.append({"id": len(events) + 1, "previousEventId": len(events), "type": "ExecutionAborted"})
        return True

    def redrive(self, execution_arn: str, client_token: str | None = None) -> None:
        """As Step Functions: only an execution whose history ended other than succeeded, once per
        token; the redriven attempt's events are for the test to append."""
        self._call("redrive")
        events = self.histories.get(execution_arn)
        if events is None:
            raise ExecutionNotRetryable("it never reached Step Functions")
        tokens = self.redrive_tokens.setdefault(execution_arn, [])
        if client_token is not None and client_token in tokens:
            return
        last = events[-1]["type"]
        if last not in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            raise ExecutionNotRetryable(f"Step Functions will not redrive it ({last})")
        tokens.append(client_token or "")
        events.append(
            {
                "id": len(events) + 1,
                "previousEventId": len(events),
                "type": "ExecutionRedriven",
                "timestamp": START,
                "executionRedrivenEventDetails": {"redriveCount": len(tokens)},
            }
        )


def started_event() -> dict[str, Any]:
    return {"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": START}


def state_events(first_id: int, *names: str) -> list[dict[str, Any]]:
    """Pass states entered and exited one after another, from event id `first_id`."""
    events: list[dict[str, Any]] = []
    for name in names:
        event_id = first_id + len(events)
        events.append(
            {
                "id": event_id,
                "previousEventId": event_id - 1,
                "type": "PassStateEntered",
                "timestamp": START,
                "stateEnteredEventDetails": {"name": name},
            }
        )
        events.append(
            {
                "id": event_id + 1,
                "previousEventId": event_id,
                "type": "PassStateExited",
                "timestamp": START,
                "stateExitedEventDetails": {"name": name},
            }
        )
    return events


def entered(event_id: int, name: str, state_type: str = "Wait") -> dict[str, Any]:
    return {
        "id": event_id,
        "previousEventId": event_id - 1,
        "type": f"{state_type}StateEntered",
        "timestamp": START,
        "stateEnteredEventDetails": {"name": name},
    }


def ids(events: Sequence[dict[str, Any]]) -> list[int]:
    return [int(event["id"]) for event in events]
