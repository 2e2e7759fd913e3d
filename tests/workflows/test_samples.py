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


def test_document_summary_fails_cleanly_on_an_empty_document(api: Api):
    started = api.start("document-summary", raw_body="   \n  ", headers={"Content-Type": "text/plain"})
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
