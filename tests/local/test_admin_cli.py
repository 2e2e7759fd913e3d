"""`flowport principals|keys|passwords` and `flowport admin bootstrap`, run as `main([...])` over moto.

The commands' HTTP client is tested against a small gateway started here: it authorizes each request as
the authorizer does (the presented key's credential item, flowport.core.credentials) and hands the event to
AdminFunction's handler with that caller's context. The same commands against `flowport dev`'s server are
the last test, which needs the local gateway's enforcement of auth (another branch of issue 13).
"""

from __future__ import annotations

import io
import re
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from flowport import services
from flowport.core import credentials
from flowport.local.cli import main
from flowport.local.cloud import LocalCloud
from flowport.local.server import serving

from tests.support import Api, admin_event

ADMIN_RESOURCES = (
    "/admin/principals",
    "/admin/principals/{principalId}",
    "/admin/principals/{principalId}/keys",
    "/admin/principals/{principalId}/password",
    "/admin/keys/{keyId}",
)
PASSWORD = "a long enough password"


def _route(path: str) -> tuple[str, dict[str, str]]:
    for resource in ADMIN_RESOURCES:
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(resource))
        match = re.fullmatch(pattern, path)
        if match:
            return resource, match.groupdict()
    raise AssertionError(f"no admin route {path}")


class _Gateway(BaseHTTPRequestHandler):
    api: Api

    def _relay(self) -> None:
        resource, parameters = _route(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode() or None
        event = admin_event(self.command, resource, parameters or None, body)
        presented = credentials.presented(dict(self.headers.items()))
        found = (
            services.principal_store().api_key(credentials.key_hash(presented.secret)) if presented else None
        )
        authorizer = {"principalId": found.principal_id, **found.caller().to_context()} if found else None
        event["requestContext"]["authorizer"] = authorizer
        result = self.api.call(event)
        self.send_response(result.status)
        for name, value in result.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(result.body.encode())))
        self.end_headers()
        self.wfile.write(result.body.encode())

    do_GET = do_POST = do_PUT = do_DELETE = _relay

    def log_message(self, *_: Any) -> None:  # quiet
        pass


@pytest.fixture
def gateway_url(api: Api, capsys: pytest.CaptureFixture[str]) -> Iterator[str]:
    api.call(admin_event("GET", "/admin/principals"))  # in-process, its cold start prints a metric
    capsys.readouterr()
    handler = type("Gateway", (_Gateway,), {"api": api})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _bootstrapped(cloud: LocalCloud, capsys: pytest.CaptureFixture[str]) -> str:
    (table,) = cloud.stack.tables.values()
    code, out, err = _run(capsys, "admin", "bootstrap", "--table", table.name, "--name", "first-admin")
    assert code == 0, err
    secret = out.strip()
    assert out == secret + "\n"
    assert credentials.looks_like_a_key(secret)
    assert "key_" in err
    assert secret not in err
    return secret


def test_bootstrap_writes_an_admin_with_every_scope_and_prints_its_key_once(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str]
):
    secret = _bootstrapped(cloud, capsys)
    stored = services.principal_store().api_key(credentials.key_hash(secret))
    assert stored is not None
    assert stored.principal_name == "first-admin"
    assert stored.scopes.all_workflows
    assert {action.value for action in stored.scopes.actions} >= {"admin", "start", "read", "cancel"}
    (admin,) = services.principal_store().principals()
    assert secret not in admin.model_dump_json()


def test_the_commands_manage_principals_keys_and_passwords(
    cloud: LocalCloud,
    gateway_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("FLOWPORT_API_KEY", _bootstrapped(cloud, capsys))
    url = ("--url", gateway_url)

    code, out, err = _run(
        capsys,
        *url,
        "principals",
        "create",
        "billing",
        "--workflows",
        "ticket-triage",
        "--actions",
        "start,read",
    )
    assert code == 0, err
    principal_id = out.strip()
    assert re.fullmatch(r"p_[a-z0-9]{20}", principal_id)
    assert "ticket-triage" in err

    code, out, err = _run(capsys, *url, "keys", "issue", principal_id, "--expires-in-days", "30")
    assert code == 0, err
    secret = out.strip()
    assert out == secret + "\n"  # alone: KEY=$(flowport keys issue P) is the key
    stored = services.principal_store().api_key(credentials.key_hash(secret))
    assert stored is not None
    assert stored.principal_id == principal_id
    assert stored.expires_at is not None
    (key_id,) = re.findall(r"key_[0-9a-f]{16}", err)

    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    code, _, err = _run(capsys, *url, "passwords", "set", principal_id, "billing-bot")
    assert code == 0, err
    user = services.principal_store().user("billing-bot")
    assert user is not None
    assert credentials.verify_password(PASSWORD, user.password_hash)

    code, out, _ = _run(capsys, *url, "principals", "list")
    (listed,) = [line for line in out.splitlines() if line.startswith(principal_id)]
    assert key_id in listed
    assert "billing-bot" in listed

    assert _run(capsys, *url, "keys", "revoke", key_id)[0] == 0
    assert services.principal_store().api_key(credentials.key_hash(secret)) is None
    assert _run(capsys, *url, "principals", "delete", principal_id)[0] == 0
    assert services.principal_store().principal(principal_id) is None


def test_refusals_are_reported_on_stderr_with_their_code(
    cloud: LocalCloud,
    gateway_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("FLOWPORT_API_KEY", _bootstrapped(cloud, capsys))
    monkeypatch.setenv("FLOWPORT_URL", gateway_url)
    code, out, err = _run(capsys, "keys", "issue", "p_" + "0" * 20)
    assert (code, out) == (1, "")
    assert "404" in err
    assert "principal_not_found" in err

    code, _, err = _run(capsys, "principals", "create", "x", "--workflows", "nope", "--actions", "read")
    assert code == 1
    assert "invalid_parameter" in err

    monkeypatch.setenv("FLOWPORT_API_KEY", "fpk_" + "x" * 43)  # no such key
    code, _, err = _run(capsys, "principals", "list")
    assert code == 1
    assert "unauthorized" in err
    assert "x" * 43 not in err

    monkeypatch.delenv("FLOWPORT_API_KEY")
    code, _, err = _run(capsys, "principals", "list")
    assert code == 1
    assert "FLOWPORT_API_KEY" in err


def test_an_unreachable_api_is_an_error_not_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FLOWPORT_API_KEY", "fpk_" + "y" * 43)
    code, out, err = _run(capsys, "--url", "http://127.0.0.1:9", "principals", "list")
    assert (code, out) == (1, "")
    assert err.startswith("error: cannot reach http://127.0.0.1:9")


def test_the_commands_against_the_local_server(
    cloud: LocalCloud, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("FLOWPORT_API_KEY", _bootstrapped(cloud, capsys))
    with serving(cloud.stack, log=io.StringIO()) as server:
        code, out, err = _run(
            capsys,
            "--url",
            server.url,
            "principals",
            "create",
            "ops",
            "--workflows",
            "*",
            "--actions",
            "read",
        )
        assert code == 0, err
        code, out, err = _run(capsys, "--url", server.url, "keys", "issue", out.strip())
        assert code == 0, err
        assert credentials.looks_like_a_key(out.strip())
