"""The ports: what the use cases need from the world outside, as Protocols the core owns.

flowport.aws implements them with DynamoDB and Step Functions; tests/fakes.py implements them in memory.
A port speaks the core's models and raises the core's errors (ServiceUnavailable when AWS is busy).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from flowport.core.admission import Hold, Holder
from flowport.core.identity import Reach, StoredCredential
from flowport.core.models import (
    DeliveryLog,
    DeliveryState,
    ExecutionRecord,
    ExecutionSummary,
    IdempotencyKeyRecord,
    LiveView,
)
from flowport.core.status import Observation

if TYPE_CHECKING:
    from flowport.core.principals import KeyInfo, Principal
    from flowport.core.retry import RetryKeyRecord

    # The search's query planning is the status function's alone: the other functions do not load it.
    from flowport.core.search import QuerySpec
    from flowport.core.webhooks import CallbackTarget, DeliveryMessage, WebhookSecrets


class KeyTaken(Exception):
    """The idempotency key's item exists (or changed generation); `existing` is its current content."""

    def __init__(self, existing: IdempotencyKeyRecord | None) -> None:
        super().__init__("idempotency key taken")
        self.existing = existing


class RetryKeyTaken(Exception):
    """A retry's idempotency key exists (or changed generation); `existing` is its current content."""

    def __init__(self, existing: RetryKeyRecord | None) -> None:
        super().__init__("retry idempotency key taken")
        self.existing = existing


@dataclass(frozen=True)
class CancelClaim:
    """What a claim of an execution's cancellation found."""

    won: bool
    record: ExecutionRecord | None
    """The record as the claim found it; None when there is no such execution (or it expired)."""


class ExecutionStore(Protocol):
    """Execution records and idempotency keys."""

    def create(
        self,
        record: ExecutionRecord,
        key: IdempotencyKeyRecord | None,
        now: float,
        replaces_generation: int | None = None,
        search_keys: Mapping[str, str] | None = None,
    ) -> None:
        """Write a new execution, its key and its search pointers at once; KeyTaken if the key is not
        free (or no longer of `replaces_generation`)."""

    def get(self, execution_id: str, now: float) -> ExecutionRecord | None:
        """The record, or None if there is none or it expired by `now` (epoch seconds)."""

    def get_many(self, execution_ids: Sequence[str], now: float) -> dict[str, ExecutionRecord]:
        """These executions' records by id, leaving out those absent or expired."""

    def take_over_start(self, key: IdempotencyKeyRecord, lease_until: float) -> bool:
        """Claim the start of a key's execution whose first request gave up; one claimant wins."""

    def release_start(self, key_hash: str, execution_id: str) -> bool:
        """Let the next request with this key start its execution at once."""

    def claim_cancel(self, execution_id: str, now: datetime, reach: Reach) -> CancelClaim:
        """Claim the cancellation of a queued or running execution within `reach`; one of any number of
        callers wins."""

    def withdraw_cancel(self, execution_id: str) -> bool:
        """Give a won claim back (the stop failed), so that a retry can claim it again."""

    def finish(self, record: ExecutionRecord, after_cancel: bool = False) -> bool:
        """Write a finished record (and its key's status); a finished record is never changed again,
        but for a CANCELLED one (`after_cancel`) whose execution ended another way before its stop."""

    def mark_running(self, record: ExecutionRecord) -> bool:
        """Move a QUEUED record (and its key) to RUNNING; False if it is not QUEUED."""

    def note_rerun(self, execution_id: str, rerun_id: str) -> bool:
        """Add `rerun_id` to the reruns of `execution_id` (once, and only to the first MAX_RERUNS_NOTED);
        False if it was there, the list is full, or the record is gone."""

    def enqueue(self, record: ExecutionRecord) -> bool:
        """Put a QUEUED record that holds no slot into its queue (the record as `Admission.waiting` makes
        it); False if it is no longer QUEUED, or is cancelled, waiting or dispatched already."""

    def claim_dispatch(self, execution_id: str, queue_order: str, now: datetime) -> ExecutionRecord | None:
        """Take a waiting execution out of its queue to start it (it holds a slot now): the record as it is
        then, or None if it no longer waits there (dispatched, cancelled or timed out meanwhile)."""

    def finish_waiting(self, record: ExecutionRecord, queue_order: str) -> bool:
        """Finish an execution that waits in its queue (it timed out there); False if it no longer waits."""


@dataclass(frozen=True)
class Slots:
    """A workflow's slots as one consistent read found them."""

    holders: tuple[Holder, ...]

    @property
    def running(self) -> int:
        return len(self.holders)


class SlotStore(Protocol):
    """Each workflow's slots: which execution attempts hold one (flowport.core.admission)."""

    def take(self, workflow: str, holder: Holder, limit: int | None) -> Hold:
        """Hold a slot for this attempt if fewer than `limit` are held (None: no limit): TAKEN; HELD when
        it holds one already, so a retried take never counts twice; REFUSED otherwise."""

    def release(self, workflow: str, execution_id: str, attempt: int) -> bool:
        """Free this attempt's slot; False if it holds none (freed already: a repeated or late end)."""

    def hand_over(self, workflow: str, freed: Holder, successor: Holder) -> bool:
        """Give one attempt's slot to another execution in one write (the running count stays); False if
        `freed` holds no slot or `successor` holds one already."""

    def renew(self, workflow: str, holder: Holder, from_attempt: int) -> bool:
        """Give the slot attempt `from_attempt` of the execution holds to `holder` (a retry of an execution
        whose end has not freed its slot yet, or the undoing of that renewal); False if it holds none."""

    def read(self, workflow: str) -> Slots: ...


class WorkflowQueue(Protocol):
    """Each workflow's queue of waiting executions, read from the queue index (eventually consistent:
    an execution that joined or left it a moment ago may not show yet)."""

    def head(self, workflow: str, count: int) -> list[str]:
        """The queue orders of the first `count` waiting executions, first first."""

    def ahead_of(self, workflow: str, queue_order: str) -> int:
        """How many wait before this queue order."""

    def orders(self, workflow: str) -> list[str]:
        """Every waiting execution's queue order, first first."""

    def length(self, workflow: str) -> int:
        """How many wait."""


class RetryRecords(Protocol):
    """What retries write beside the records' other writes (flowport.core.retry): a record's new attempt,
    and the idempotency keys of retries."""

    def restart(self, record: ExecutionRecord, from_attempt: int | None) -> bool:
        """Write `record` (RUNNING again, flowport.core.retry.restarted) as its attempt
        `record.redrive_count`, and its key's status. `from_attempt`: only over a record of that attempt
        whose status it may have had when Step Functions redrove it (flowport.core.retry.CLAIMABLE: a
        retry's claim); None: over any record of an earlier attempt (the sync function told of a
        redrive). False when the condition fails."""

    def create_key(self, key: RetryKeyRecord, now: float, replaces_generation: int | None = None) -> None:
        """Write a retry's key if it is free (absent or expired by `now`), or, with
        `replaces_generation`, if it is still of that generation; RetryKeyTaken otherwise."""

    def take_over_key(self, key: RetryKeyRecord, lease_until: float) -> bool:
        """Claim the retry of a key whose request gave up (its lease ended); one claimant wins."""

    def release_key(self, key: RetryKeyRecord) -> None:
        """Let the key go (its request was refused): the next request with it starts afresh."""


class LiveViewStore(Protocol):
    """The live views of running executions (flowport.core.live), beside their records."""

    def read(
        self, execution_id: str, now: float, finished_view: bool = False
    ) -> tuple[ExecutionRecord | None, LiveView | None]:
        """The record and its live view, read together; a finished record's view only if asked for."""

    def claim_refresh(
        self, execution_id: str, now: float, stale_before: float, claim_seconds: float, attempt: int = 0
    ) -> bool:
        """Claim the next history read of this execution: won only while its view was observed at or
        before `stale_before` (or is absent) and is not final, or is of an attempt before `attempt` (a
        retried execution's, final or not), and no other claim of the last `claim_seconds` holds."""

    def put(self, execution_id: str, view: LiveView, expires_at: int) -> None:
        """Keep this view (and end any claim) until the record's own expiry; never over a final view of
        the same or a later attempt."""


class WorkflowEngine(Protocol):
    """Step Functions: start, look at and stop executions."""

    def start(self, state_machine_arn: str, name: str, input_json: str) -> None:
        """Start the named execution; one of that name existing already counts as started."""

    def describe(self, execution_arn: str) -> Observation | None:
        """The execution as Step Functions describes it; None if it has no such execution."""

    def history_page(self, execution_arn: str) -> list[dict[str, Any]] | None:
        """The newest page of its history (at most 1000 events, without inputs and outputs); None if it
        has no such execution."""

    def full_history(self, execution_arn: str, include_data: bool) -> list[dict[str, Any]] | None:
        """Every event of its history, oldest first; None if it has no such execution."""

    def stop(self, execution_arn: str, cause: str) -> bool:
        """Stop it; False if Step Functions has no such execution (its start has not reached it)."""

    def redrive(self, execution_arn: str, client_token: str | None = None) -> None:
        """Run a failed, timed-out or aborted execution again from where it stopped (RedriveExecution);
        the same `client_token` again (within 15 minutes) redrives it once. ExecutionNotRetryable with
        Step Functions' reason when it refuses."""


@dataclass(frozen=True)
class SummaryPage:
    summaries: list[ExecutionSummary]
    after: str | None
    """The createdKey where the read stopped; None when it read to the end."""


@dataclass(frozen=True)
class PointerPage:
    execution_ids: list[str]
    after: str | None


class SearchIndex(Protocol):
    """The indexes GET /executions reads (flowport.core.search plans which)."""

    def summaries(self, spec: QuerySpec, limit: int) -> SummaryPage: ...

    def pointers(self, spec: QuerySpec, limit: int) -> PointerPage: ...

    def executions(self, execution_ids: Sequence[str], now: datetime) -> list[ExecutionSummary]:
        """These executions' summaries, in this order, leaving out those gone or expired."""


class CredentialLookup(Protocol):
    """What the authorizer reads: one item per credential."""

    def api_key(self, key_hash: str) -> StoredCredential | None:
        """The credential of the API key with this SHA-256; None if there is none (or it was revoked)."""

    def user(self, username: str) -> StoredCredential | None:
        """The password credential of this user name; None if there is none."""


class PrincipalDirectory(CredentialLookup, Protocol):
    """Principals and their credentials, as the admin routes manage them."""

    def create(self, principal: Principal) -> None: ...

    def principals(self) -> list[Principal]:
        """Every principal, by id."""

    def principal(self, principal_id: str) -> Principal | None: ...

    def add_key(self, principal_id: str, key: KeyInfo, key_hash: str, credential: StoredCredential) -> None:
        """Give the principal this key; PrincipalNotFound, or KeyLimitReached when it holds the most."""

    def revoke_key(self, key_id: str) -> bool:
        """Delete the key and its credential; False if there is no such key."""

    def set_password(self, principal_id: str, username: str, credential: StoredCredential) -> None:
        """Set (or replace) the principal's user name and password; UsernameTaken if another has it."""

    def delete(self, principal_id: str) -> bool:
        """Delete the principal with every credential of it; False if there is no such principal."""


class CallbackHostsLookup(Protocol):
    """What a start needs of a principal's webhook settings, and no more: never its secrets."""

    def callback_hosts(self, owner: str) -> tuple[str, ...] | None:
        """The hosts the principal's callbacks may go to, () when it keeps no list of its own; None when it
        has no webhook secret to sign them with."""


class WebhookSecretStore(Protocol):
    """Each principal's webhook signing secrets (flowport.core.webhooks.WebhookSecrets)."""

    def secrets(self, owner: str) -> WebhookSecrets | None: ...

    def save(self, secrets: WebhookSecrets) -> None: ...


class DeliveryLogs(WebhookSecretStore, Protocol):
    """Each webhook message's delivery log, beside the secrets that sign it."""

    def pending(
        self, execution_id: str, message_id: str, owner: str
    ) -> tuple[DeliveryLog | None, WebhookSecrets | None]:
        """The message's log and its owner's secrets, read together (one call)."""

    def record(self, log: DeliveryLog) -> bool:
        """Append the log's one attempt, if the log holds exactly the attempts before it (`attempt_count`
        - 1): of two deliveries of one queued message, one records; False for the other."""

    def logs(self, execution_id: str) -> list[DeliveryLog]:
        """Every message of the execution, oldest first."""

    def mark_failed(self, execution_id: str, state: DeliveryState) -> None:
        """Say on the execution's record that its callback failed for good."""


class DeliveryQueue(Protocol):
    def send(self, message: DeliveryMessage, delay_seconds: int) -> None: ...

    def dead_letter(self, message: DeliveryMessage) -> None:
        """Keep a message whose last attempt failed, for an operator."""


@dataclass(frozen=True)
class CallbackAnswer:
    status: int | None
    """None: no answer (timeout, connection refused or reset)."""
    retry_after: str | None = None
    error: str | None = None


class CallbackTransport(Protocol):
    """DNS and HTTP, to the callback URLs."""

    def resolve(self, host: str, port: int) -> list[str]:
        """The addresses `host` resolves to now (empty: none)."""

    def post(
        self, target: CallbackTarget, address: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> CallbackAnswer:
        """POST to `target` connecting to `address` (as checked), following no redirect."""
