"""Admission rules: how many executions of a workflow run at once, and which waiting one runs next.

Every execution of every workflow holds a *slot* of its workflow from before its StartExecution until
after Step Functions reports its end; a workflow's limit caps the slots it may hand out. A start that
finds no free slot waits in the workflow's queue: highest `priority` first (99 before 0), first in, first
out within a priority. Holding slots for unlimited workflows too keeps their running counts exact, so a
limit added to a workflow that already runs executions counts them from the first start after it.

A slot is held per attempt (an execution's redrive is a new attempt), so that a late end event of an
earlier attempt never frees the slot of the run that replaced it. The reconciler's judgement of each
holder is `judge_holder`; flowport.usecases.admission carries the decisions out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from flowport.core.index import created_text
from flowport.core.models import ExecutionError, ExecutionRecord, ExecutionStatus
from flowport.core.registry import Workflow
from flowport.core.status import retained

MAX_PRIORITY = 99
QUEUE_TIMEOUT = ExecutionError(
    code="queue_timeout",
    message="The execution waited in its workflow's queue longer than its maxQueueSeconds and never ran",
)


def limit_of(workflow: Workflow, default_limit: int) -> int | None:
    """The workflow's own maxConcurrency, else the stack's default (0: none); None: no limit."""
    if workflow.max_concurrency is not None:
        return workflow.max_concurrency
    return default_limit or None


def queue_order(priority: int, queued_at: datetime, execution_id: str, attempt: int = 0) -> str:
    """The sort key of a waiting execution in its workflow's queue: text order is the order they run in
    (the highest priority first; within a priority, the first queued; the id breaks ties). It names the
    attempt that will run too (0: the first; a queued retry's redrive otherwise), the slot's holder."""
    return f"{MAX_PRIORITY - priority:02d}#{created_text(queued_at)}#{execution_id}#{attempt}"


def queued_at_of(order: str) -> datetime:
    """When the execution of a queue sort key joined the queue (the queue index projects nothing else)."""
    return datetime.fromisoformat(order.split("#")[1].replace("Z", "+00:00"))


def execution_of(order: str) -> str:
    return order.split("#")[2]


def holder_of(order: str, since: float) -> Holder:
    """The slot holder the waiting execution of a queue sort key will be when it runs."""
    _, _, execution_id, attempt = order.split("#")
    return Holder(execution_id, int(attempt), since)


def queue_deadline(queued_at: datetime, workflow: Workflow) -> datetime:
    return queued_at + timedelta(seconds=workflow.max_queue_seconds)


def is_overdue(queued_at: datetime, workflow: Workflow, now: datetime) -> bool:
    return now >= queue_deadline(queued_at, workflow)


def timed_out_in_queue(record: ExecutionRecord, workflow: Workflow) -> ExecutionRecord:
    """A waiting record as it ends at its queue deadline: FAILED with `queue_timeout`, finished then (so
    its retention starts at the deadline, whoever notices it and whenever)."""
    assert record.queued_at is not None
    return retained(
        record.model_copy(
            update={
                "status": ExecutionStatus.FAILED,
                "error": QUEUE_TIMEOUT,
                "completed_at": queue_deadline(record.queued_at, workflow),
                "queue_order": None,
            }
        ),
        workflow,
    )


def as_it_waits(record: ExecutionRecord, workflow: Workflow | None, now: datetime) -> ExecutionRecord:
    """A waiting record as a read sees it: timed out once its deadline passed, though nobody wrote so yet."""
    assert record.queued_at is not None
    if workflow is not None and is_overdue(record.queued_at, workflow, now):
        return timed_out_in_queue(record, workflow)
    return record


@dataclass(frozen=True)
class Holder:
    """One execution's hold on a slot."""

    execution_id: str
    attempt: int
    since: float
    """Epoch seconds it was taken."""


class Hold(Enum):
    """How a request holds its attempt's slot, which is what it gives back if the attempt never runs."""

    TAKEN = "taken"  # it took a free slot
    HELD = "held"  # the attempt held one already: a retried take, or another request for the same attempt
    RENEWED = "renewed"  # it took the slot its execution's previous attempt still held (a retry)
    REFUSED = "refused"  # none free (or another attempt of the execution holds its slot): it waits


def holders_to_check(holders: Sequence[Holder], run: int, most: int) -> Sequence[Holder]:
    """The holders a reconciler run looks at, at most `most`: a window that moves on by `most` each run
    (wrapping around), so that every holder is looked at within ceil(len / most) runs, however long the
    oldest ones rightly run; all of them when they are few."""
    if len(holders) <= most:
        return holders
    start = (run * most) % len(holders)
    return [*holders[start : start + most], *holders[: max(0, start + most - len(holders))]]


class Verdict(Enum):
    KEEP = "keep"  # it holds its slot rightly, or may still: look again next time
    RELEASE = "release"  # nothing will ever release it: free it now
    ASK_ENGINE = "ask_engine"  # only Step Functions can tell


def judge_holder(holder: Holder, record: ExecutionRecord | None, now: float, grace_seconds: float) -> Verdict:
    """What the reconciler does about a slot holder, from its record.

    `grace_seconds` is longer than any function runs (Lambda's timeout), so a holder older than it has no
    start or dispatch still on its way: whatever took the slot has finished or died.
    """
    settled = now - holder.since >= grace_seconds
    if record is None or record.waiting:
        # Taken by a start or a dispatch that died before its record said so (no record, or the record
        # still waits in the queue): nothing runs for it.
        return Verdict.RELEASE if settled else Verdict.KEEP
    if record.redrive_count > holder.attempt:
        return Verdict.RELEASE  # an earlier attempt's slot; the new attempt holds its own
    return Verdict.ASK_ENGINE if settled else Verdict.KEEP
