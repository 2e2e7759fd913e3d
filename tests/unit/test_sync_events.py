"""Reading a Step Functions status change out of its EventBridge event, and refusing what is not one."""

from __future__ import annotations

import pytest
from flowport.aws.status_events import UnreadableEvent, read_status_change
from flowport.core import sync
from flowport.core.models import ExecutionStatus

from tests.support import load_event
from tests.unit.test_status import record

SECRET = "zq-output-Vb81Ks"


def test_the_sample_event_reads_as_its_status_change():
    event = load_event("execution-status-change")

    change = read_status_change(event)

    assert change.name == event["detail"]["name"]
    assert change.execution_arn == event["detail"]["executionArn"]
    assert change.status == event["detail"]["status"]


@pytest.mark.parametrize(
    ("detail", "fault"),
    [
        (None, "detail: model_type"),
        ("RUNNING", "detail: model_type"),
        ({"executionArn": "arn", "stateMachineArn": "arn", "status": "RUNNING"}, "detail.name: missing"),
        (
            {
                "executionArn": "arn",
                "stateMachineArn": "arn",
                "name": "x",
                "status": "RUNNING",
                "startDate": SECRET,
            },
            "detail.startDate: int_parsing",
        ),
    ],
)
def test_what_is_not_a_status_change_is_refused_by_its_faults_not_its_values(detail: object, fault: str):
    event = {**load_event("execution-status-change"), "detail": detail, "input": SECRET}

    with pytest.raises(UnreadableEvent) as raised:
        read_status_change(event)

    assert fault in str(raised.value)
    assert f"event {event['id']}" in str(raised.value)  # so that an operator can find it
    assert SECRET not in str(raised.value)
    assert raised.value.__suppress_context__


def test_an_unreadable_event_names_its_execution_when_it_can():
    event = load_event("execution-status-change")
    del event["detail"]["name"]

    with pytest.raises(UnreadableEvent, match=f"execution {event['detail']['executionArn']}"):
        read_status_change(event)


@pytest.mark.parametrize(
    ("record_status", "reported", "runs_though_cancelled"),
    [
        (ExecutionStatus.CANCELLED, "RUNNING", True),  # started after a cancel of its QUEUED record
        (ExecutionStatus.CANCELLED, "ABORTED", False),  # the cancel's own stop, reported
        (ExecutionStatus.QUEUED, "RUNNING", False),
        (ExecutionStatus.COMPLETED, "RUNNING", False),  # a late event of a finished run
    ],
)
def test_only_a_cancelled_record_reported_running_needs_its_execution_stopped(
    record_status: ExecutionStatus, reported: str, runs_though_cancelled: bool
):
    change = read_status_change({**load_event("execution-status-change"), "detail": _detail(reported)})

    assert sync.runs_though_cancelled(record(status=record_status), change) is runs_though_cancelled


def _detail(status: str) -> dict[str, object]:
    return {**load_event("execution-status-change")["detail"], "status": status, "output": None}
