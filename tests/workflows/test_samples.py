"""The sample workflows, really executed by moto's Step Functions with their Lambdas run in-process."""

from __future__ import annotations

from tests.support import TICKET, Api, load_event

REPORT = load_event("start-document-summary")["body"]


def test_document_summary_completes_with_its_summary(api: Api):
    started = api.start("document-summary", raw_body=REPORT, headers={"Content-Type": "text/markdown"})
    assert started.status == 202
    done = api.wait_for_status(started.json()["executionId"], "COMPLETED", "FAILED")
    assert done["status"] == "COMPLETED", done
    output = done["output"]
    assert output["title"] == "Quarterly report"
    assert output["sectionCount"] == len(output["sections"]) >= 2
    assert output["wordCount"] == sum(section["wordCount"] for section in output["sections"])
    assert output["summary"]
    assert done["statusVariables"] == {
        "title": "Quarterly report",
        "sectionCount": output["sectionCount"],
        "wordCount": output["wordCount"],
    }


def test_document_summary_reports_status_variables_both_ways_while_it_runs(api: Api):
    from flowport import services

    started = api.start("document-summary", raw_body=REPORT, headers={"Content-Type": "text/markdown"})
    execution_id = started.json()["executionId"]
    api.wait_for_status(execution_id, "COMPLETED")
    record = services.execution_store().get(execution_id, 0)
    assert record is not None
    # title: set by the ParseDocument Lambda (flowport.aws.reporting); sectionCount: by the ASL's
    # DynamoDB step
    assert record.status_variables == {"title": "Quarterly report", "sectionCount": 2}


def test_a_reported_progress_wins_over_the_counted_one(api: Api):
    from flowport import services
    from flowport.aws.reporting import report_status

    started = api.start(body={**TICKET, "delaySeconds": 60}).json()
    api.wait_for_status(started["executionId"], "RUNNING")
    assert report_status(started["executionId"], progress=42, queue="manual")
    document = api.get(started["executionId"]).json()
    assert document["progress"] == 42
    assert document["statusVariables"]["queue"] == "manual"
    assert "progress" not in document["statusVariables"]  # not declared: never shown as a variable
    assert not report_status("no-such-execution", progress=1)
    assert api.cancel(started["executionId"]).status == 200
    assert services.execution_store().get(started["executionId"], 0) is not None


def test_document_summary_fails_cleanly_on_a_binary_looking_document(api: Api):
    """The workflow's own check, for what the input schema lets through (it refuses an empty document)."""
    started = api.start(
        "document-summary", raw_body="PK\x03\x04 zip?", headers={"Content-Type": "text/plain"}
    )
    failed = api.wait_for_status(started.json()["executionId"], "COMPLETED", "FAILED")
    assert failed["status"] == "FAILED"
    assert failed["error"]["code"] == "InvalidDocument"
    assert failed["error"]["message"]
    assert "output" not in failed


def test_ticket_triage_routes_by_tier_and_subject(api: Api):
    cases = {
        ("free", "Where is my invoice?"): "self-service",
        ("pro", "Where is my invoice?"): "standard",
        ("free", "URGENT: site down"): "priority",
    }
    started = {
        case: api.start(
            body={**TICKET, "customerTier": case[0], "subject": case[1]}, query={"version": "1"}
        ).json()
        for case in cases
    }
    for case, queue in cases.items():
        done = api.wait_for_status(started[case]["executionId"], "COMPLETED")
        assert done["statusVariables"]["queue"] == queue, case
