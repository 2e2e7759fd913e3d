"""Idempotency rules, as plain functions of what DynamoDB and Step Functions said.

DynamoDB is the authority: the first request to write a key (conditionally) owns it and names the
execution. Every later request with that key is answered from the key's record by these rules.
"""

from __future__ import annotations

import hashlib
import json
from enum import Enum
from typing import Any

from flowport.core.errors import IdempotencyKeyReused
from flowport.core.models import ConflictStrategy, ExecutionStatus, IdempotencyKeyRecord

MAX_KEY_LENGTH = 255


def hash_key(key: str, scope: str = "") -> str:
    """Keys are stored hashed: they may carry client data, and a hash has a fixed, safe length."""
    return hashlib.sha256(f"{scope}\x00{key}".encode()).hexdigest()


def fingerprint(
    workflow: str,
    version: int,
    workflow_input: dict[str, Any],
    rerun_of: str | None = None,
    callback: dict[str, Any] | None = None,
) -> str:
    """Identifies 'the same request': same workflow, same version, same input (key order ignored), for
    a rerun the execution it reruns, so that a rerun's key never replays an ordinary start, and the
    callback the request named, so that a key never replays a start whose end goes elsewhere. A start
    without either has the fingerprint it had before they existed: the keys already written stay valid."""
    request: list[Any] = [workflow, version, workflow_input]
    if rerun_of is not None:
        request.append({"rerunOf": rerun_of})
    if callback is not None:
        request.append({"callback": callback})
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def ensure_same_request(key: IdempotencyKeyRecord, request_fingerprint: str) -> None:
    if key.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            "This idempotency key was already used for a different request (workflow, version, body or "
            "callback); use a new key for a new request",
            execution_id=key.execution_id,
        )


class ConflictAction(Enum):
    REPLAY = "replay"  # answer with the existing execution
    REJECT = "reject"  # 409 naming the existing execution
    START_NEW_GENERATION = "start_new_generation"  # the key may start a new execution


def on_conflict(strategy: ConflictStrategy, existing_status: ExecutionStatus) -> ConflictAction:
    if strategy is ConflictStrategy.RETURN_EXISTING:
        return ConflictAction.REPLAY
    if strategy is ConflictStrategy.FAIL_ON_RUNNING and existing_status.is_terminal:
        return ConflictAction.START_NEW_GENERATION
    return ConflictAction.REJECT


def needs_observation(strategy: ConflictStrategy, known_status: ExecutionStatus) -> bool:
    """Whether the key's status must be checked against Step Functions before deciding.

    QUEUED means DynamoDB never heard that the execution started. FAIL_ON_RUNNING must also confirm that
    a RUNNING execution has not finished since DynamoDB last heard of it.
    """
    if known_status is ExecutionStatus.QUEUED:
        return True
    return strategy is ConflictStrategy.FAIL_ON_RUNNING and not known_status.is_terminal


class PendingStart(Enum):
    IN_FLIGHT = "in_flight"  # the request that wrote the key may still be starting it
    TAKE_OVER = "take_over"  # that request died or gave up: start the execution on its behalf
    ABANDONED = "abandoned"  # too late to start it: the execution counts as FAILED


def pending_start(lease_until: float, created_at: float, now: float, deadline_seconds: int) -> PendingStart:
    """What to do about an execution DynamoDB knows of but Step Functions does not (yet)."""
    if now < lease_until:
        return PendingStart.IN_FLIGHT
    if now < created_at + deadline_seconds:
        return PendingStart.TAKE_OVER
    return PendingStart.ABANDONED
