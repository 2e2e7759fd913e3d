"""The console's function (GET /console, GET /console/{asset}) and the two routes made for it: GET /me and
GET /workflows/{name}/graph, each fed with its sample event from events/."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flowport import services
from flowport.core.identity import Action

from tests.support import ADMIN, Api, as_caller, caller, load_event, with_request

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "functions" / "console" / "assets"
# dist/dagre.min.js of @dagrejs/dagre 3.1.3 on the npm registry, as vendored (MIT: dagre-license.txt).
DAGRE_SHA256 = "54a503e346f93ca0bb10abe7999587e037262935687aca45eb4e4b0f64bbb578"
OWN_SCRIPTS = sorted(path for path in ASSETS.glob("*.js") if path.name != "dagre.min.js")


@pytest.fixture
def console(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """In-process the functions share one environment, without the LAMBDA_TASK_ROOT that Lambda and local
    mode give each function: the console's folder is named instead."""
    monkeypatch.setenv("FLOWPORT_CONSOLE_PATH", str(ASSETS))
    services.reset()
    yield api
    services.reset()


def test_the_page_carries_its_policy_an_etag_and_a_304_for_a_current_copy(console: Api):
    page = console.call(load_event("get-console-file"))
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script src="console.js" type="module">' in page.body
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    again = console.call(
        with_request(load_event("get-console-file"), headers={"If-None-Match": page.headers["etag"]})
    )
    assert (again.status, again.body, again.headers["etag"]) == (304, "", page.headers["etag"])
    stale = console.call(with_request(load_event("get-console-file"), headers={"If-None-Match": '"other"'}))
    assert stale.status == 200


def test_an_edited_file_is_served_as_it_is_now_with_a_new_etag(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """As under `flowport dev`, where the console's folder is the checkout's: no restart after an edit."""
    folder = tmp_path / "assets"
    folder.mkdir()
    page = folder / "index.html"
    page.write_text("<p>before</p>")
    monkeypatch.setenv("FLOWPORT_CONSOLE_PATH", str(folder))
    services.reset()
    before = api.call(load_event("get-console-file"))
    page.write_text("<p>after, longer</p>")
    after = api.call(load_event("get-console-file"))
    services.reset()
    assert (before.body, after.body) == ("<p>before</p>", "<p>after, longer</p>")
    assert before.headers["etag"] != after.headers["etag"]


def test_each_file_has_its_media_type_and_an_unknown_or_unsafe_name_is_refused(console: Api):
    event = load_event("get-console-file")
    script = console.call(with_request(event, path_parameters={"asset": "console.js"}))
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert console.call(with_request(event, path_parameters={"asset": "console.css"})).status == 200
    assert console.call(with_request(event, path_parameters={"asset": "nothing.js"})).problem_code == (
        "console_file_not_found"
    )
    for unsafe in ("..", ".env", "app.py%2F..", "../app.py"):
        refused = console.call(with_request(event, path_parameters={"asset": unsafe}))
        assert refused.status in (400, 404), unsafe
        assert refused.headers["content-type"] == "application/problem+json"
    # Files of the function other than its assets are never served.
    assert console.call(with_request(event, path_parameters={"asset": "app.py"})).status == 404


def test_the_console_path_redirects_to_its_page_under_the_stage(console: Api):
    event = load_event("get-console-file")
    event["resource"] = event["requestContext"]["resourcePath"] = event["path"] = "/console"
    event["requestContext"]["path"] = "/v1/console"
    event["pathParameters"] = None
    answer = console.call(event)
    assert (answer.status, answer.headers["location"]) == (308, "/v1/console/index.html")


def test_the_page_loads_only_files_it_has_and_builds_values_as_text():
    """What the page and its modules load is there; and the console's own scripts never parse markup, so
    an execution's values cannot become HTML (the browser tests check it running)."""
    names = {path.name for path in ASSETS.iterdir()}
    page = (ASSETS / "index.html").read_text()
    assert set(re.findall(r'(?:src|href)="([a-z0-9.-]+\.(?:js|css))"', page)) <= names
    assert "<script>" not in page
    assert "style=" not in page
    for script in OWN_SCRIPTS:
        text = script.read_text()
        assert set(re.findall(r'from "\./([a-z0-9.-]+)"', text)) <= names, script.name
        for sink in (
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ):
            assert sink not in text, (script.name, sink)
    assert hashlib.sha256((ASSETS / "dagre.min.js").read_bytes()).hexdigest() == DAGRE_SHA256
    assert (
        "MIT" in (ASSETS / "dagre-license.txt").read_text()
        or "Permission is hereby granted" in (ASSETS / "dagre-license.txt").read_text()
    )


def test_me_is_the_caller_and_its_scopes(api: Api):
    me = api.call(load_event("get-caller"))
    assert me.status == 200
    assert me.json() == {
        "principalId": "p_sampleprincipal00001",
        "name": "sample-admin",
        "authMode": "apiKey",
        "scopes": {
            "workflows": ["*"],
            "actions": ["admin", "cancel", "read", "retry", "start"],
            "ownExecutionsOnly": False,
        },
    }
    reader = caller(workflows=("ticket-triage",), actions=(Action.READ,))
    scoped = api.call(as_caller(load_event("get-caller"), reader)).json()
    assert scoped["scopes"]["actions"] == ["read"]
    assert scoped["principalId"] == reader.principal_id
    event = load_event("get-caller")
    del event["requestContext"]["authorizer"]
    assert api.call(event).problem_code == "unauthorized"


def test_a_workflow_graph_of_a_version_and_the_latest(api: Api):
    first = api.call(load_event("get-workflow-graph"))
    assert first.status == 200
    graph = first.json()
    assert (graph["workflow"], graph["version"], graph["startAt"]) == ("ticket-triage", 1, "CheckDelay")
    assert "Screen" not in {node["name"] for node in graph["nodes"]}  # v2's spam screen
    latest = api.call(with_request(load_event("get-workflow-graph"), query={})).json()
    assert latest["version"] == 2
    assert {"from": "Screen", "to": "Reject", "kind": "choice"}.items() <= next(
        edge for edge in latest["edges"] if edge["to"] == "Reject"
    ).items()
    unknown = api.call(with_request(load_event("get-workflow-graph"), query={"version": "9"}))
    assert (unknown.status, unknown.problem_code) == (404, "version_not_found")
    outsider = caller(workflows=("partner-sync",), actions=(Action.READ,))
    hidden = api.call(as_caller(load_event("get-workflow-graph"), outsider))
    assert (hidden.status, hidden.problem_code) == (404, "workflow_not_found")
    assert api.call(as_caller(load_event("get-workflow-graph"), ADMIN)).status == 200
