"""Logs never hold request bodies, idempotency keys or credentials, at the configured level (INFO).

Every function runs with distinctive values in each place a secret can be: request bodies and query
strings, the Idempotency-Key, Authorization and X-Api-Key headers, and the AWS secret key the functions
sign their calls with. Everything logged is captured: the local server's log stream, stdout and stderr
(file descriptors and sys), Python logging records, and the streams of every logging handler that was
created before the test (Powertools' Logger writes to the stdout it found at import).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from flowport import services
from flowport.local import cloud as local_cloud
from flowport.local.server import serving
from flowport.local.template import Stack

from tests.support import HandlerStreams, KeyedServer, keyed, wait_until

BODY = "zq-body-7Hd3kW"
TITLE = "zq-title-Pm4vXa"
CUSTOMER = "zq-customer-R8ne2L"
IDEMPOTENCY_KEY = "zq-idem-9Tg5Bc"
BEARER = "zq-bearer-Lc2Wq8"
PASSWORD = "zq-password-Vh3Kp5"
AWS_SECRET = "zq-awssecret-Qe7Jm0"
SECRETS = (BODY, TITLE, CUSTOMER, IDEMPOTENCY_KEY, BEARER, PASSWORD, AWS_SECRET)
# Credentials the authorizer refuses (each request's own); every other request sends an admin's real key.
REFUSED_CREDENTIALS = (
    {"Authorization": f"Bearer {BEARER}"},
    {"token": BEARER},
    {"user": "zq-user", "password": PASSWORD},
    {"X-API-Key": f"fpk_{BEARER}", "Authorization": f"Bearer {BEARER}"},
)


@pytest.fixture
def server(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[KeyedServer, io.StringIO]]:
    """The local server over a stack whose functions sign their AWS calls with AWS_SECRET."""
    monkeypatch.setitem(local_cloud.FAKE_CREDENTIALS, "AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # credentials resolved again, from the above
    log = io.StringIO()
    with local_cloud.running(stack), serving(stack, log=log) as running:
        yield keyed(running), log
    services.reset()


def _drive(server: KeyedServer) -> list[str]:
    """Every route, the sync function and the document steps, with the secrets in every request, and
    requests the authorizer refuses, with theirs."""
    seen: list[str] = []

    def call(method: str, path: str, **kwargs: Any) -> requests.Response:
        response = server.http.request(method, server.url + path, timeout=30, **kwargs)
        seen.append(f"{method} {path} {response.status_code}")
        return response

    for credentials in REFUSED_CREDENTIALS:
        refused = requests.get(f"{server.url}/executions", headers=credentials, timeout=30)
        assert refused.status_code == 401, refused.text

    slow = {"subject": BODY, "customerTier": "pro", "customerId": CUSTOMER, "delaySeconds": 60}
    keyed = {"Idempotency-Key": IDEMPOTENCY_KEY, "X-On-Conflict": "RETURN_EXISTING"}
    running = call("POST", "/workflows/ticket-triage/executions", json=slow, headers=keyed).json()
    call("POST", "/workflows/ticket-triage/executions", json=slow, headers=keyed)  # replayed
    call("POST", "/workflows/ticket-triage/executions", json={**slow, "delaySeconds": 1}, headers=keyed)
    call("POST", "/workflows/ticket-triage/executions", json={"subject": BODY, "extra": BODY})  # refused
    call(
        "POST",
        "/workflows/ticket-triage/executions",
        data=f"{{{BODY}",
        headers={"Content-Type": "application/json"},
    )
    call("GET", f"/workflows/ticket-triage/start?subject={BODY}&customerTier=free&customerId={CUSTOMER}")
    document = f"# {TITLE}\n\n## Part\n\n{BODY} is in the text. It ends here.\n"
    summary = call(
        "POST",
        "/workflows/document-summary/executions",
        data=document.encode(),
        headers={
            "Content-Type": "text/markdown",
            "Idempotency-Key": f"{IDEMPOTENCY_KEY}-doc",
            "X-On-Conflict": "FAIL",
        },
    ).json()
    assert "executionId" in summary, (seen, summary)
    location = f"/executions/{summary['executionId']}"
    wait_until(lambda: call("GET", location).json()["status"] == "COMPLETED")
    call("GET", f"{location}/history?include=io")
    call("GET", f"{location}/events", headers={"Accept": "text/event-stream"})
    call("GET", f"/executions?workflow=ticket-triage&input.customerId={CUSTOMER}")
    call("GET", f"/executions/{running['executionId']}")
    call("DELETE", f"/executions/{running['executionId']}")
    call("GET", "/workflows")
    call("GET", "/workflows/ticket-triage")
    call("GET", "/openapi.json")
    return seen


def test_no_secret_is_logged_at_the_configured_level(
    server: tuple[KeyedServer, io.StringIO],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
):
    running, server_log = server
    # The credentials the functions' clients resolve, as boto3 resolves them for any client of this process.
    credentials = boto3.Session().get_credentials()
    assert credentials is not None
    assert credentials.get_frozen_credentials().secret_key == AWS_SECRET
    with HandlerStreams() as handlers:
        seen = _drive(running)
    assert " 500" not in " ".join(seen), seen
    out, err = capfd.readouterr()
    records = [
        json.dumps({**record.__dict__, "message": record.getMessage()}, default=str)
        for record in caplog.records
    ]
    logged = {
        "server log": server_log.getvalue(),
        "stdout": out,
        "stderr": err,
        "logging handlers": handlers.buffer.getvalue(),
        "logging records": "\n".join(records),
    }
    everything = "\n".join(logged.values())
    # The capture works: the functions' and the server's own lines are in it.
    for expected in ('"Document parsed"', '"status change"', '"message": "request"'):
        assert expected in everything.replace('":"', '": "'), expected
    leaks = {
        (where, secret): [line for line in text.splitlines() if secret in line][:3]
        for where, text in logged.items()
        for secret in (*SECRETS, running.key)
        if secret in text
    }
    assert not leaks
