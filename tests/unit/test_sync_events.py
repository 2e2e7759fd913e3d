"""Reading a Step Functions status change out of its EventBridge event, and refusing what is not one."""

from __future__ import annotations

import pytest
from flowport.sync import UnreadableEvent, read_status_change

from tests.support import load_event

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
    assert SECRET not in str(raised.value)
    assert raised.value.__suppress_context__
