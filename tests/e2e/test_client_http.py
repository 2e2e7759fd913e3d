"""flowport.client against the local server over HTTP: each call of the README's "Python client"."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from flowport.client import FinalEvent, FlowportApiError, FlowportClient, NodeEvent, ProgressEvent, new_key
from flowport.local.cloud import LocalCloud
from flowport.local.server import serving

from tests.support import TICKET, admin_key, wait_until

pytestmark = pytest.mark.e2e
SPAM = {**TICKET, "subject": "Buy cheap spam now"}  # ticket-triage v2 rejects it: FAILED


@pytest.fixture
def client(cloud: LocalCloud) -> Iterator[FlowportClient]:
    with (
        serving(cloud.stack, log=io.StringIO()) as running,
        FlowportClient(running.url, admin_key()) as client,
    ):
        yield client


def test_start_wait_and_read_an_execution(client: FlowportClient):
    key = new_key()
    started = client.start("ticket-triage", TICKET, correlation_id="order-7", priority=5, idempotency_key=key)
    assert (started.workflow, started.correlation_id, started.priority, started.replayed) == (
        "ticket-triage",
        "order-7",
        5,
        False,
    )
    again = client.start("ticket-triage", TICKET, idempotency_key=key)
    assert (again.execution_id, again.replayed) == (started.execution_id, True)
    done = client.wait(started.execution_id, timeout=60)
    assert (done.status, done.output["queue"]) == ("COMPLETED", "priority")
    assert done.status_variables == {"queue": "priority", "slaHours": 4}
    read = client.get(started.execution_id)
    assert (read.status, read.progress and read.progress.progress) == ("COMPLETED", 100)
    runs = list(client.history(started.execution_id, include_io=True))
    assert [run.name for run in runs][:2] == ["CheckDelay", "Screen"]
    assert all(run.status == "SUCCEEDED" for run in runs)


def test_events_are_typed_and_a_resume_sends_only_what_follows(client: FlowportClient):
    execution_id = client.start("ticket-triage", TICKET).execution_id
    events = list(client.events(execution_id))
    assert isinstance(events[-1], FinalEvent)
    assert events[-1].execution.status == "COMPLETED"
    assert any(isinstance(event, ProgressEvent) and event.progress.total_nodes for event in events)
    nodes = [event.name for event in events if isinstance(event, NodeEvent) and event.kind == "node_started"]
    assert nodes[0] == "CheckDelay"
    # From the second event on: the same events after it, none twice.
    resumed = list(client.events(execution_id, last_event_id=events[1].id))
    assert [event.id for event in resumed] == [event.id for event in events[2:]]
    assert list(client.events(execution_id, last_event_id=events[-1].id)) == []  # the stream ended: 204


def test_cancel_retry_and_rerun(client: FlowportClient):
    waiting = client.start("ticket-triage", {**TICKET, "delaySeconds": 30}).execution_id
    wait_until(lambda: client.get(waiting).status == "RUNNING")
    assert client.cancel(waiting)["cancelled"] is True
    with pytest.raises(FlowportApiError) as refused:
        client.cancel(waiting)
    assert (refused.value.status, refused.value.code) == (409, "execution_not_cancellable")
    assert client.retry(waiting, idempotency_key=new_key()).status == "RUNNING"
    assert client.get(waiting).raw["redriveCount"] == 1
    client.cancel(waiting)

    failed = client.start("ticket-triage", SPAM).execution_id
    assert client.wait(failed, timeout=60).status == "FAILED"
    rerun = client.rerun(failed, version=1)  # v1 has no spam filter
    assert (rerun.version, client.get(rerun.execution_id).raw["rerunOf"]) == (1, failed)
    assert client.wait(rerun.execution_id, timeout=60).status == "COMPLETED"


def test_search_pages_through_everything_the_filters_find(client: FlowportClient):
    correlation = new_key()
    ids = {
        client.start("ticket-triage", {**TICKET, "subject": f"s{n}"}, correlation_id=correlation).execution_id
        for n in range(3)
    }
    found = list(client.search(correlationId=correlation, page_size=1))
    assert {execution.execution_id for execution in found} == ids
    assert [workflow["name"] for workflow in client.workflows()].count("ticket-triage") == 1
    assert client.workflow("partner-sync")["maxConcurrency"] == 2


def test_errors_are_problem_documents(client: FlowportClient):
    with pytest.raises(FlowportApiError) as unknown:
        client.get("2f1c6a8e-3b7d-4c59-9e0a-6d2b8f4a1c37")
    assert (unknown.value.status, unknown.value.code) == (404, "execution_not_found")
    with pytest.raises(FlowportApiError) as invalid:
        client.start("ticket-triage", {"subject": 7})
    assert (invalid.value.status, invalid.value.code) == (422, "input_validation_failed")
    anonymous = FlowportClient(client.url, api_key="")
    with pytest.raises(FlowportApiError) as unauthorized:
        anonymous.get("2f1c6a8e-3b7d-4c59-9e0a-6d2b8f4a1c37")
    assert unauthorized.value.status == 401
