"""Retry rules: which executions may run again from where they failed, and what a retry records.

A retry is Step Functions' RedriveExecution: the same execution (same id, same ARN) goes on from the state
it failed in, with the results of the states that succeeded kept. Each redrive starts an **attempt**:
Step Functions counts them (`redriveCount`, 0 for the first run), and so does the record, which is how
the sync function tells a redriven execution's events from the late events of an earlier attempt
(flowport.core.sync). A rerun, by contrast, is a new execution (flowport.usecases.retry).

The rules:

- Retryable: an execution recorded FAILED, TIMED_OUT or CANCELLED whose end (`completedAt`) is less than
  REDRIVABLE_DAYS ago, as Step Functions redrives only within 14 days of the end. A COMPLETED one is
  refused without asking Step Functions, and so is one waiting in its workflow's queue. Another QUEUED
  one, or a RUNNING one, is Step Functions' to judge: the record may not have heard yet that it ran and
  ended (the sync function writes that within seconds, while a status read already shows it), and Step
  Functions refuses one that still runs or never reached it.
  Step Functions refuses the rest itself too (one over its history limit), and its reason is the 409's
  detail.
- One attempt per retry: the attempt a retry asks for is the record's count + 1, and its RedriveExecution
  carries a client token derived from the execution and that attempt (`client_token`). Step Functions
  answers repeated tokens of one execution idempotently (its last 10, for 15 minutes), so two retries
  that saw the same attempt redrive it once, however they interleave.
- Recording it: the record goes back to RUNNING as the new attempt, without how the last one ended
  (completedAt, error, output, progress; a cancel's claim too, so that it can be cancelled again), and
  expires as a new start would (flowport.core.status.expiry_for_new).
- An idempotency key of a retry names (caller, execution, key): the same key sent to retry another
  execution is another key. It records the attempt it asked for; once the record has that attempt, the
  key's request is done and answers as a start's key does (`X-On-Conflict`); before, it is in flight
  (409) until its lease ends, and then the next request with it takes the retry over (same attempt, same
  token: at most one redrive).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from pydantic import Field

from flowport.core import idempotency, status
from flowport.core.models import ExecutionRecord, ExecutionStatus, StoredModel
from flowport.core.registry import Workflow

RETRYABLE = frozenset({ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.CANCELLED})
# What a record of the attempt Step Functions has just redriven may say: how that attempt ended, or still
# QUEUED or RUNNING, when the sync function had not heard of it yet (Step Functions redrives no running
# one), never COMPLETED (nor does it redrive a succeeded one).
CLAIMABLE = RETRYABLE | {ExecutionStatus.QUEUED, ExecutionStatus.RUNNING}
# Step Functions redrives an execution within 14 days of its end.
REDRIVABLE_DAYS = 14


class RetryKeyRecord(StoredModel):
    """An idempotency key of a retry: the attempt its request asked for."""

    key_hash: str
    execution_id: str
    attempt: int = Field(ge=1, description="The redriveCount the retry makes")
    generation: int = Field(ge=1, description="Bumped when FAIL_ON_RUNNING retries again with the same key")
    created_at: datetime
    lease_until: float = Field(description="Epoch seconds until which its request may still be retrying")
    expires_at: int


def refusal(record: ExecutionRecord, now: datetime) -> str | None:
    """Why this execution cannot be retried now, as the 409's detail; None when it can, as far as the
    record tells (a QUEUED or RUNNING one is for Step Functions to refuse, if it has not ended)."""
    if record.status is ExecutionStatus.COMPLETED:
        return "it completed; rerun it (POST .../rerun) to run it again"
    if record.waiting:
        return "it waits in its workflow's queue: it has not run yet"
    if not record.status.is_terminal:
        return None
    if record.completed_at is not None and now - record.completed_at >= timedelta(days=REDRIVABLE_DAYS):
        return f"it ended more than {REDRIVABLE_DAYS} days ago; rerun it (POST .../rerun) instead"
    return None


def next_attempt(record: ExecutionRecord) -> int:
    return record.redrive_count + 1


def client_token(execution_id: str, attempt: int) -> str:
    """RedriveExecution's clientToken for this attempt (Step Functions takes 1-64 printable characters)."""
    return hashlib.sha256(f"{execution_id}#{attempt}".encode()).hexdigest()


def restarted(record: ExecutionRecord, attempt: int, expires_at: int) -> ExecutionRecord:
    """The record running again as `attempt`, without what the attempt before ended with."""
    return record.model_copy(
        update={
            "status": ExecutionStatus.RUNNING,
            "redrive_count": attempt,
            "completed_at": None,
            "error": None,
            "output": None,
            "output_in_step_functions": False,
            "progress": None,
            "cancel_requested_at": None,
            "expires_at": expires_at,
        }
    )


def new_run_expiry(
    record: ExecutionRecord, workflow: Workflow | None, now: datetime, max_run_seconds: int
) -> int:
    """The TTL of a record that runs again: a new start's, from now (`workflow` None: removed since it ran,
    while its state machine may still run it)."""
    if workflow is None:
        return max(record.expires_at, int(now.timestamp()) + max_run_seconds)
    return status.expiry_for_new(now, workflow, max_run_seconds)


def key_hash(key: str, caller_scope: str, execution_id: str) -> str:
    """A retry's key is the caller's own, for this execution: no start's key, and no other execution's."""
    return idempotency.hash_key(key, scope=f"{caller_scope}\x00retry\x00{execution_id}")


def attempt_recorded(key: RetryKeyRecord, record: ExecutionRecord) -> bool:
    """Whether the attempt the key's request asked for has happened (the record has it, or a later one)."""
    return record.redrive_count >= key.attempt
