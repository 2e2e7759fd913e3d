"""Authentication over HTTP: the local gateway runs the template's authorizer in front of the routes, as
API Gateway does, and answers its 401s and 403s from the template's GatewayResponses."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from flowport import services
from flowport.core.errors import DEFAULT_CHALLENGE
from flowport.local.cloud import LocalCloud
from flowport.local.server import serving

from tests.support import (
    TICKET,
    KeyedServer,
    basic,
    issue_key,
    keyed,
    new_principal,
    set_password,
    wait_until,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# No cache in the authorizer's container, so that a revocation shows at once (the cache has its own test).
UNCACHED = {"FLOWPORT_AUTH_CACHE_SECONDS": "0"}
PASSWORD = "correct horse battery staple"


@pytest.fixture
def server(cloud: LocalCloud) -> Iterator[KeyedServer]:
    with serving(cloud.stack, log=io.StringIO(), environment=UNCACHED) as running:
        yield keyed(running)


def _search(server: KeyedServer, headers: dict[str, str]) -> requests.Response:
    return requests.get(f"{server.url}/executions", headers=headers, timeout=10)


def _assert_unauthorized(response: requests.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == DEFAULT_CHALLENGE
    assert response.json() == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "Unauthorized",
        "code": "unauthorized",
    }


def test_every_header_form_authenticates(server: KeyedServer):
    principal = new_principal(actions=["read"])
    key = issue_key(principal).secret
    set_password(principal, "ops-reader", PASSWORD)
    forms = {
        "X-API-Key": {"X-API-Key": key},
        "Bearer": {"Authorization": f"Bearer {key}"},
        "X-Authorization": {"X-Authorization": key},
        "token": {"token": key},
        "Basic": {"Authorization": basic("ops-reader", PASSWORD)},
        "user+password": {"user": "ops-reader", "password": PASSWORD},
    }
    answered = {form: _search(server, headers).status_code for form, headers in forms.items()}
    assert answered == dict.fromkeys(forms, 200)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key": "fpk_" + "0" * 43},
        {"Authorization": "Bearer not-a-flowport-key"},
        {"Authorization": basic("nobody", PASSWORD)},
        {"user": "nobody"},
    ],
    ids=["none", "unknown-key", "foreign-token", "unknown-user", "user-alone"],
)
def test_missing_or_wrong_credentials_are_401_with_the_challenge(
    server: KeyedServer, headers: dict[str, str]
):
    _assert_unauthorized(_search(server, headers))


def test_an_expired_key_and_a_revoked_key_are_401(server: KeyedServer):
    principal = new_principal()
    _assert_unauthorized(_search(server, {"X-API-Key": issue_key(principal, expired=True).secret}))
    issued = issue_key(principal)
    assert _search(server, {"X-API-Key": issued.secret}).status_code == 200
    services.manage_principals().revoke_key(issued.key_id)
    _assert_unauthorized(_search(server, {"X-API-Key": issued.secret}))


def test_valid_credentials_without_the_scope_are_403_forbidden(server: KeyedServer):
    starter = {"X-API-Key": issue_key(new_principal(workflows=["ticket-triage"], actions=["start"])).secret}
    started = requests.post(
        f"{server.url}/workflows/ticket-triage/executions", json=TICKET, headers=starter, timeout=10
    )
    assert started.status_code == 202, started.text
    for method, path in [
        ("GET", "/executions"),
        ("GET", started.headers["Location"]),
        ("DELETE", started.headers["Location"]),
        ("POST", "/workflows/document-summary/executions"),
    ]:
        refused = requests.request(method, server.url + path, headers=starter, timeout=10)
        assert refused.status_code == 403, (method, path, refused.text)
        assert refused.headers["Content-Type"] == "application/problem+json"
        assert refused.json()["code"] == "forbidden"


def test_the_openapi_document_and_the_405s_are_public(server: KeyedServer):
    assert requests.get(f"{server.url}/openapi.json", timeout=10).status_code == 200
    other_method = requests.put(f"{server.url}/executions", timeout=10)
    assert (other_method.status_code, other_method.json()["code"]) == (405, "method_not_allowed")


@pytest.fixture
def public_start(cloud: LocalCloud, tmp_path: Path) -> Iterator[KeyedServer]:
    """The server with ticket-triage's start public (`"auth": "none"`), in a copy of the workflows."""
    workflows = tmp_path / "statemachines"
    shutil.copytree(ROOT / "statemachines", workflows)
    settings = workflows / "ticket-triage" / "workflow.json"
    settings.write_text(json.dumps({**json.loads(settings.read_text()), "auth": "none"}))
    environment = {**UNCACHED, "FLOWPORT_WORKFLOWS_PATH": str(workflows)}
    with serving(cloud.stack, log=io.StringIO(), environment=environment) as running:
        yield keyed(running)


def test_a_public_workflow_starts_without_credentials_but_its_executions_need_them(public_start: KeyedServer):
    url = public_start.url
    started = requests.post(f"{url}/workflows/ticket-triage/executions", json=TICKET, timeout=10)
    assert started.status_code == 202, started.text
    _assert_unauthorized(requests.get(url + started.headers["Location"], timeout=10))
    assert public_start.http.get(url + started.headers["Location"], timeout=10).status_code == 200
    # Another workflow's start still takes an API key.
    _assert_unauthorized(
        requests.post(f"{url}/workflows/document-summary/executions", data="# x", timeout=10)
    )


def test_a_revoked_key_works_for_the_authorizers_cache_ttl_and_not_after(cloud: LocalCloud):
    ttl = 5  # long enough for two requests and a revocation on a busy machine
    environment = {"FLOWPORT_AUTH_CACHE_SECONDS": str(ttl)}
    with serving(cloud.stack, log=io.StringIO(), environment=environment) as running:
        server = keyed(running)
        issued = issue_key(new_principal())
        headers = {"X-API-Key": issued.secret}
        assert _search(server, headers).status_code == 200  # now cached in the authorizer's container
        services.manage_principals().revoke_key(issued.key_id)
        # One request at a time reaches the same (warmest) container, whose cache still has the key.
        assert _search(server, headers).status_code == 200
        wait_until(lambda: _search(server, headers).status_code == 401, timeout=ttl + 10, interval=0.2)
