"""Live views against moto, on the table template.yaml declares: read beside their record in one call,
refreshed by one claimant at a time, never over a final view, fitted to an item."""

from __future__ import annotations

import secrets
from datetime import timedelta

import boto3
import pytest
from flowport.aws import clients
from flowport.aws.live_views import DynamoLiveViews
from flowport.aws.store import ExecutionStore
from flowport.core import live
from flowport.core.models import ExecutionError, ExecutionStatus, LiveView, NodeEvent, ProgressSnapshot
from flowport.local.cloud import LocalCloud

from tests.aws.test_store import NOW, record
from tests.support import calls_recorded

EPOCH = NOW.timestamp()
FRESH_SECONDS = 1.0
CLAIM_SECONDS = 5.0


@pytest.fixture
def views(cloud: LocalCloud) -> DynamoLiveViews:
    (table,) = cloud.stack.tables.values()
    return DynamoLiveViews(boto3.client("dynamodb"), table.name)


@pytest.fixture
def store(cloud: LocalCloud) -> ExecutionStore:
    (table,) = cloud.stack.tables.values()
    store = ExecutionStore(boto3.client("dynamodb"), table.name)
    store.create(record(status=ExecutionStatus.RUNNING), None, now=EPOCH)
    return store


def view(observed_at: float = EPOCH, final: bool = False, events: int = 2) -> LiveView:
    return LiveView(
        observed_at=observed_at,
        status=ExecutionStatus.COMPLETED if final else ExecutionStatus.RUNNING,
        started_at=NOW,
        progress=ProgressSnapshot(
            progress=50, current_node="B", completed_nodes=1, total_nodes=2, retry_count=0
        ),
        node_events=[
            NodeEvent(id=number + 2, kind="node_started", name=f"S{number}", type="Task", at=NOW)
            for number in range(events)
        ],
        last_event_id=events + 1,
        final=final,
    )


def claim(views: DynamoLiveViews, now: float) -> bool:
    return views.claim_refresh("e1", now, stale_before=now - FRESH_SECONDS, claim_seconds=CLAIM_SECONDS)


@pytest.mark.usefixtures("store")
def test_the_record_and_its_view_are_read_in_one_call(cloud: LocalCloud):
    (table,) = cloud.stack.tables.values()
    views = DynamoLiveViews(clients.dynamodb(), table.name)  # the client calls_recorded hooks
    assert views.read("e1", EPOCH)[1] is None  # no view yet
    views.put("e1", view(), expires_at=int(EPOCH) + 60)
    with calls_recorded() as log:
        found, kept = views.read("e1", EPOCH)
    assert log.calls == ["dynamodb.BatchGetItem"]
    assert found is not None
    assert found.execution_id == "e1"
    assert kept == view()


@pytest.mark.usefixtures("store")
def test_one_reader_of_many_claims_a_stale_view_and_the_claim_holds_for_a_while(views: DynamoLiveViews):
    assert claim(views, EPOCH)  # no view at all: the first reader claims
    assert not claim(views, EPOCH + 0.1)  # the others keep what they have
    assert not claim(views, EPOCH + CLAIM_SECONDS - 0.1)
    assert claim(views, EPOCH + CLAIM_SECONDS + 0.1)  # the claimant died: after the claim, another may


@pytest.mark.usefixtures("store")
def test_a_fresh_view_is_not_claimed_and_a_stale_one_is(views: DynamoLiveViews):
    views.put("e1", view(observed_at=EPOCH), expires_at=int(EPOCH) + 60)
    assert not claim(views, EPOCH + FRESH_SECONDS / 2)
    assert claim(views, EPOCH + FRESH_SECONDS + 0.1)


@pytest.mark.usefixtures("store")
def test_a_final_view_is_never_claimed_nor_replaced(views: DynamoLiveViews):
    views.put("e1", view(final=True), expires_at=int(EPOCH) + 60)
    assert not views.claim_refresh("e1", EPOCH + 99, stale_before=EPOCH + 99, claim_seconds=CLAIM_SECONDS)
    views.put("e1", view(observed_at=EPOCH + 1), expires_at=int(EPOCH) + 60)  # a refresh that lost the race
    assert views.read("e1", EPOCH)[1] == view(final=True)


@pytest.mark.usefixtures("store")
def test_a_final_view_of_an_earlier_attempt_is_claimed_and_replaced_by_the_next_attempts(
    views: DynamoLiveViews,
):
    """A retried execution runs again (flowport.core.retry): its last attempt's final view is stale."""
    views.put("e1", view(final=True), expires_at=int(EPOCH) + 60)
    assert not views.claim_refresh("e1", EPOCH, stale_before=EPOCH, claim_seconds=CLAIM_SECONDS, attempt=0)
    assert views.claim_refresh("e1", EPOCH, stale_before=EPOCH, claim_seconds=CLAIM_SECONDS, attempt=1)
    running_again = view(observed_at=EPOCH + 1).model_copy(update={"redrive_count": 1})
    views.put("e1", running_again, expires_at=int(EPOCH) + 60)
    assert views.read("e1", EPOCH)[1] == running_again
    # That attempt's view is claimed by time again, and its own final view is final.
    assert not views.claim_refresh(
        "e1", EPOCH + 1, stale_before=EPOCH, claim_seconds=CLAIM_SECONDS, attempt=1
    )
    ended = view(observed_at=EPOCH + 2, final=True).model_copy(update={"redrive_count": 1})
    views.put("e1", ended, expires_at=int(EPOCH) + 60)
    views.put("e1", running_again, expires_at=int(EPOCH) + 60)  # a refresh that lost the race
    assert views.read("e1", EPOCH)[1] == ended


@pytest.mark.usefixtures("store")
def test_a_view_too_large_for_an_item_keeps_its_newest_node_events(views: DynamoLiveViews):
    big = view(events=400)
    # Random messages: the view is compressed, and repeated text would fit whatever its length.
    noisy = big.model_copy(
        update={
            "node_events": [
                event.model_copy(update={"error": ExecutionError(code="E", message=secrets.token_hex(400))})
                for event in big.node_events
            ]
        }
    )
    original = live.MAX_VIEW_BYTES
    try:
        live.MAX_VIEW_BYTES = 8 * 1024  # small enough that these node events cannot all fit
        views.put("e1", noisy, expires_at=int(EPOCH) + 60)
    finally:
        live.MAX_VIEW_BYTES = original
    kept = views.read("e1", EPOCH)[1]
    assert kept is not None
    assert 0 < len(kept.node_events) < len(noisy.node_events)
    assert kept.node_events == noisy.node_events[-len(kept.node_events) :]
    assert kept.events_from == kept.node_events[0].id
    assert not live.covers(kept, 0)  # a client from the start must read the whole history


def test_an_expired_record_has_no_view(views: DynamoLiveViews, store: ExecutionStore):
    views.put("e1", view(), expires_at=int(EPOCH) + 60)
    later = NOW + timedelta(hours=2)  # the record expires an hour after NOW
    assert views.read("e1", later.timestamp()) == (None, None)


def test_a_finished_records_view_is_read_only_when_asked_for(views: DynamoLiveViews, store: ExecutionStore):
    views.put("e1", view(final=True), expires_at=int(EPOCH) + 60)
    store.finish(record(status=ExecutionStatus.COMPLETED, completed_at=NOW))
    found, kept = views.read("e1", EPOCH)
    assert found is not None
    assert (found.status, kept) == (ExecutionStatus.COMPLETED, None)  # a status read needs no view
    assert views.read("e1", EPOCH, finished_view=True)[1] == view(final=True)  # a stream's last look does
