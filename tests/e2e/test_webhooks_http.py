"""Webhooks through the local server as `make dev` runs it: every function in its own containers, the
deliver function posting over real HTTP to a receiver on 127.0.0.1 that verifies with `standardwebhooks`,
on a compressed clock; the development admin's signing secret in its file."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowport import services
from flowport.core import credentials
from flowport.local.cloud import LocalCloud
from flowport.local.server import LocalServer, serving
from standardwebhooks import Webhook

from tests.e2e.test_readme import example, run_curl
from tests.support import TICKET, KeyedServer, keyed, wait_until
from tests.webhooks.receiver import receiving

ROOT = Path(__file__).resolve().parents[2]
QUICK_WEBHOOKS = {"FLOWPORT_WEBHOOK_CLOCK_SCALE": "0.00001", "FLOWPORT_WEBHOOK_TIMEOUT_SECONDS": "0.5"}


@pytest.fixture
def log() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def local(cloud: LocalCloud, log: io.StringIO) -> Iterator[LocalServer]:
    with serving(cloud.stack, log=log, environment=QUICK_WEBHOOKS) as running:
        yield running


@pytest.fixture
def server(local: LocalServer) -> KeyedServer:
    return keyed(local)


def _principal_of(key: str) -> str:
    credential = services.principal_store().api_key(credentials.key_hash(key))
    assert credential is not None
    return credential.principal_id


def _rotate(server: KeyedServer) -> dict[str, Any]:
    principal = _principal_of(server.key)
    answer = server.http.post(f"{server.url}/admin/principals/{principal}/webhook-secret", timeout=10)
    assert answer.status_code == 201, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    return dict(answer.json())


def _start(server: KeyedServer, callback_url: str) -> str:
    started = server.http.post(
        f"{server.url}/workflows/ticket-triage/executions",
        params={"callbackUrl": callback_url},
        json=TICKET,
        timeout=10,
    )
    assert started.status_code == 202, started.text
    return str(started.json()["executionId"])


def test_a_callback_is_delivered_over_http_and_verifies(server: KeyedServer, log: io.StringIO):
    secret = _rotate(server)["secret"]
    with receiving(secret) as receiver:
        execution_id = _start(server, f"{receiver.url}/fail/1")
        wait_until(lambda: len(receiver.deliveries) == 2, timeout=30)
        first, second = receiver.deliveries
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert second.payload is not None
    assert second.payload["data"]["executionId"] == execution_id
    assert second.payload["data"]["links"]["self"] == f"{server.url}/executions/{execution_id}"

    def delivered() -> dict[str, Any] | None:
        answer = server.http.get(f"{server.url}/executions/{execution_id}/deliveries", timeout=10)
        (message,) = answer.json()["items"]
        return message if message["state"] == "delivered" else None

    message = wait_until(delivered)
    assert [a["responseStatus"] for a in message["attempts"]] == [500, 200]
    assert secret not in log.getvalue()
    assert secret.removeprefix("whsec_") not in log.getvalue()


def test_a_rotated_secret_and_the_one_it_replaced_both_verify(server: KeyedServer):
    old = _rotate(server)["secret"]
    new = _rotate(server)["secret"]
    with receiving(new) as receiver:
        _start(server, f"{receiver.url}/ok")
        (delivery,) = wait_until(lambda: receiver.deliveries or None, timeout=30)
    assert delivery.payload is not None
    assert len(delivery.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(delivery.body, delivery.headers)


def test_a_callback_into_the_metadata_service_is_a_400_problem(server: KeyedServer):
    _rotate(server)
    answer = server.http.post(
        f"{server.url}/workflows/ticket-triage/executions",
        params={"callbackUrl": "http://169.254.169.254/latest/meta-data/"},
        json=TICKET,
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert answer.json()["code"] == "callback_refused"


def test_the_dev_admin_s_webhook_secret_is_kept_beside_its_key(cloud: LocalCloud, tmp_path: Path):
    from flowport.local.dev_key import dev_admin_key, dev_webhook_secret

    key, _ = dev_admin_key(tmp_path)
    secret, path = dev_webhook_secret(tmp_path, key)
    assert path == tmp_path / "dev-webhook-secret"
    assert path.read_text().strip() == secret
    assert secret.startswith("whsec_")
    assert path.stat().st_mode & 0o777 == 0o600
    assert dev_webhook_secret(tmp_path, key) == (secret, path)  # reused while the table holds it
    assert not subprocess.run(
        ["git", "check-ignore", "-q", ".flowport/dev-webhook-secret"], cwd=ROOT
    ).returncode


def test_the_readme_s_webhook_example_runs_as_written(server: KeyedServer):
    """README's three curl commands, with its placeholders filled: the principal's id, a receiver's port,
    the execution's id."""
    rotate, start, list_deliveries = example("# once: the signing secret of your principal")
    principal = _principal_of(server.key)
    answer = run_curl([word.replace("PRINCIPAL_ID", principal) for word in rotate], server)
    assert answer.status_code == 201, answer.text
    with receiving(answer.json()["secret"]) as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        started = run_curl([word.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for word in start], server)
        assert started.status_code == 202, started.text
        execution_id = started.json()["executionId"]
        listed = run_curl([word.replace("EXECUTION_ID", execution_id) for word in list_deliveries], server)
    assert listed.status_code == 200, listed.text
    assert listed.json()["executionId"] == execution_id


def test_a_principal_s_own_allowlist_refuses_other_hosts(server: KeyedServer):
    principal = _principal_of(server.key)
    hosts = f"{server.url}/admin/principals/{principal}/callback-hosts"
    before = server.http.put(hosts, json={"callbackHosts": ["hooks.example.com"]}, timeout=10)
    assert (before.status_code, before.json()["code"]) == (400, "webhook_secret_missing")
    _rotate(server)
    answer = server.http.put(
        hosts, json={"callbackHosts": ["Hooks.Example.com", "*.partner.example"]}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"callbackHosts": ["hooks.example.com", "*.partner.example"]}
    refused = server.http.post(
        f"{server.url}/workflows/ticket-triage/executions",
        params={"callbackUrl": "http://127.0.0.1:9/hooks"},
        json=TICKET,
        timeout=10,
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "callback_refused")
    assert "principal's callbackHosts" in refused.json()["detail"]
    assert server.http.put(hosts, json={"callbackHosts": []}, timeout=10).status_code == 200
    _start(server, "http://127.0.0.1:9/hooks")  # any host again
    bad = server.http.put(hosts, json={"callbackHosts": ["not a host"]}, timeout=10)
    assert bad.status_code == 400
    assert bad.headers["Content-Type"].startswith("application/problem+json")
