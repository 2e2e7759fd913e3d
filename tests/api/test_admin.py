"""The admin routes, through AdminFunction's handler over moto, as API Gateway would call them."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from flowport import observability, services
from flowport.aws import clients
from flowport.core import credentials
from flowport.local.cloud import LocalCloud

from tests.support import Api, HandlerStreams, HttpResult, admin_event, load_event, with_request

CREATE, ISSUE = "admin-create-principal", "admin-issue-key"
UNKNOWN_PRINCIPAL = "p_" + "0" * 20
UNKNOWN_KEY = "key_" + "0" * 16
READER = {"workflows": ["ticket-triage"], "actions": ["read", "start"]}


class Admin:
    """The admin routes, called as the sample events' admin principal (or as `authorizer` says)."""

    def __init__(self, api: Api, authorizer: dict[str, Any] | None = None) -> None:
        self.api = api
        self.authorizer = authorizer

    def call(self, event: dict[str, Any]) -> HttpResult:
        if self.authorizer is not None:
            event["requestContext"]["authorizer"] = self.authorizer
        return self.api.call(event)

    def create(self, name: str = "billing", scopes: dict[str, Any] | None = None) -> HttpResult:
        body = json.dumps({"name": name, "scopes": scopes or READER})
        return self.call(with_request(load_event(CREATE), body=body))

    def issue(self, principal_id: str, body: str | None = None) -> HttpResult:
        event = with_request(load_event(ISSUE), path_parameters={"principalId": principal_id}, body=body)
        return self.call(event)

    def list(self) -> HttpResult:
        return self.call(admin_event("GET", "/admin/principals"))

    def get(self, principal_id: str) -> HttpResult:
        return self.call(admin_event("GET", "/admin/principals/{principalId}", {"principalId": principal_id}))

    def delete(self, principal_id: str) -> HttpResult:
        return self.call(
            admin_event("DELETE", "/admin/principals/{principalId}", {"principalId": principal_id})
        )

    def revoke(self, key_id: str) -> HttpResult:
        return self.call(admin_event("DELETE", "/admin/keys/{keyId}", {"keyId": key_id}))

    def set_password(self, principal_id: str, body: str) -> HttpResult:
        resource = "/admin/principals/{principalId}/password"
        return self.call(admin_event("PUT", resource, {"principalId": principal_id}, body))


@pytest.fixture
def admin(api: Api) -> Admin:
    return Admin(api)


def _created(admin: Admin, **arguments: Any) -> str:
    response = admin.create(**arguments)
    assert response.status == 201, response.body
    return str(response.json()["principalId"])


def test_a_principal_is_created_with_its_location_and_read_back(admin: Admin):
    created = admin.create("billing", {**READER, "ownExecutionsOnly": True})
    assert created.status == 201
    principal = created.json()
    assert created.headers["location"] == f"/v1/admin/principals/{principal['principalId']}"
    assert principal["scopes"] == {
        "workflows": ["ticket-triage"],
        "actions": ["read", "start"],
        "ownExecutionsOnly": True,
    }
    assert principal["keys"] == []
    assert "username" not in principal
    assert admin.get(principal["principalId"]).json() == principal
    assert admin.list().json() == {"principals": [principal]}


def test_a_key_is_shown_once_and_listed_without_its_secret(admin: Admin):
    principal_id = _created(admin)
    issued = admin.issue(principal_id)  # the sample's body: expires in 90 days
    assert issued.status == 201
    assert issued.headers["cache-control"] == "no-store"
    key = issued.json()
    assert credentials.looks_like_a_key(key["secret"])
    assert key["principalId"] == principal_id
    assert "expiresAt" in key
    listed = admin.get(principal_id)
    assert key["secret"] not in listed.body
    assert credentials.key_hash(key["secret"]) not in listed.body
    (info,) = listed.json()["keys"]
    assert info == {"keyId": key["keyId"], "createdAt": key["createdAt"], "expiresAt": key["expiresAt"]}
    stored = services.principal_store().api_key(credentials.key_hash(key["secret"]))
    assert stored is not None
    assert stored.principal_id == principal_id


@pytest.mark.parametrize("body", [None, "", "{}"], ids=["no-body", "empty", "empty-object"])
def test_a_key_without_a_body_never_expires(admin: Admin, body: str | None):
    principal_id = _created(admin)
    event = with_request(
        load_event(ISSUE),
        path_parameters={"principalId": principal_id},
        body=body,
        keep_body=body is not None,
    )
    issued = admin.call(event)
    assert issued.status == 201, issued.body
    assert "expiresAt" not in issued.json()


def test_a_third_key_is_refused_until_one_is_revoked(admin: Admin):
    principal_id = _created(admin)
    first, second = (admin.issue(principal_id).json() for _ in range(2))
    third = admin.issue(principal_id)
    assert (third.status, third.problem_code) == (409, "key_limit_reached")
    # Rotation: revoke the old key, issue its successor; the other works throughout.
    assert admin.revoke(first["keyId"]).status == 204
    assert admin.issue(principal_id).status == 201
    assert services.principal_store().api_key(credentials.key_hash(second["secret"])) is not None


def test_a_revoked_key_is_gone(admin: Admin):
    key = admin.issue(_created(admin)).json()
    revoked = admin.revoke(key["keyId"])
    assert (revoked.status, revoked.body) == (204, "")
    assert services.principal_store().api_key(credentials.key_hash(key["secret"])) is None
    assert admin.get(key["principalId"]).json()["keys"] == []
    again = admin.revoke(key["keyId"])
    assert (again.status, again.problem_code) == (404, "key_not_found")


def _items(cloud: LocalCloud) -> list[dict[str, Any]]:
    table = services.execution_store()._table  # the stack's table, as the functions name it
    return clients.dynamodb().scan(TableName=table)["Items"]


def test_delete_removes_the_principal_and_every_credential_item(admin: Admin, cloud: LocalCloud):
    before = len(_items(cloud))
    principal_id = _created(admin)
    keys = [admin.issue(principal_id).json() for _ in range(2)]
    password = json.dumps({"username": "billing-bot", "password": "correct horse battery"})
    assert admin.set_password(principal_id, password).status == 200
    assert len(_items(cloud)) == before + 1 + 2 * 2 + 1  # principal, 2 x (CRED + KEYID), USER

    deleted = admin.delete(principal_id)
    assert (deleted.status, deleted.body) == (204, "")
    assert len(_items(cloud)) == before
    for key in keys:
        assert services.principal_store().api_key(credentials.key_hash(key["secret"])) is None
    assert services.principal_store().user("billing-bot") is None
    for response in (admin.get(principal_id), admin.delete(principal_id), admin.issue(principal_id)):
        assert (response.status, response.problem_code) == (404, "principal_not_found")


def test_a_password_is_set_and_a_taken_user_name_refused(admin: Admin):
    first, second = _created(admin, name="one"), _created(admin, name="two")
    body = json.dumps({"username": "ops", "password": "a long enough password"})
    answered = admin.set_password(first, body)
    assert answered.status == 200
    assert answered.json()["username"] == "ops"
    assert "a long enough password" not in answered.body
    assert admin.get(first).json()["username"] == "ops"
    stored = services.principal_store().user("ops")
    assert stored is not None
    assert credentials.verify_password("a long enough password", stored.password_hash)
    taken = admin.set_password(second, body)
    assert (taken.status, taken.problem_code) == (409, "username_taken")
    assert admin.set_password(UNKNOWN_PRINCIPAL, body).problem_code == "principal_not_found"


NOT_ADMIN = {
    "principalId": "p_sampleprincipal00002",
    "principalName": "reader",
    "workflows": "*",
    "actions": "cancel,read,retry,start",
    "ownExecutionsOnly": "false",
    "authMode": "apiKey",
}


@pytest.mark.parametrize(
    ("authorizer", "status", "code"),
    [
        (NOT_ADMIN, 403, "forbidden"),
        ({}, 401, "unauthorized"),
        ({**NOT_ADMIN, "authMode": "none"}, 403, "forbidden"),
    ],
    ids=["not-admin", "no-caller", "anonymous"],
)
def test_only_an_admin_reaches_any_admin_route(api: Api, authorizer: dict[str, Any], status: int, code: str):
    principal_id = _created(Admin(api))
    caller = Admin(api, authorizer)
    password = json.dumps({"username": "someone", "password": "a long enough password"})
    for response in (
        caller.create(),
        caller.list(),
        caller.get(principal_id),
        caller.issue(principal_id),
        caller.revoke(UNKNOWN_KEY),
        caller.set_password(principal_id, password),
        caller.delete(principal_id),
    ):
        assert (response.status, response.problem_code) == (status, code), response.body
    assert Admin(api).get(principal_id).json()["keys"] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ('{"name": "x", "scopes": ', 400, "malformed_json"),
        ("[]", 400, "invalid_parameter"),
        ('{"name": "x"}', 400, "invalid_parameter"),
        ('{"name": "", "scopes": {"workflows": ["*"], "actions": ["read"]}}', 400, "invalid_parameter"),
        ('{"name": "x", "scopes": {"workflows": [], "actions": ["read"]}}', 400, "invalid_parameter"),
        ('{"name": "x", "scopes": {"workflows": ["*"], "actions": ["delete"]}}', 400, "invalid_parameter"),
        (
            '{"name": "x", "scopes": {"workflows": ["*"], "actions": ["read"], "extra": 1}}',
            400,
            "invalid_parameter",
        ),
        (
            '{"name": "x", "scopes": {"workflows": ["no-such-flow"], "actions": ["read"]}}',
            400,
            "invalid_parameter",
        ),
    ],
    ids=[
        "garbage",
        "cut-short",
        "array",
        "no-scopes",
        "empty-name",
        "no-workflows",
        "unknown-action",
        "unknown-scope-field",
        "unknown-workflow",
    ],
)
def test_a_bad_principal_is_refused_with_a_problem(admin: Admin, body: str, status: int, code: str):
    response = admin.call(with_request(load_event(CREATE), body=body))
    assert (response.status, response.problem_code) == (status, code), response.body
    assert admin.list().json() == {"principals": []}


def test_a_body_that_is_not_utf8_is_malformed_json_not_a_failure(admin: Admin):
    event = with_request(load_event(CREATE), body=base64.b64encode(b"\xff {}").decode())
    event["isBase64Encoded"] = True
    response = admin.call(event)
    assert (response.status, response.problem_code) == (400, "malformed_json")
    assert admin.list().json() == {"principals": []}


def test_bad_key_and_password_bodies_and_media_types_are_refused(admin: Admin):
    principal_id = _created(admin)
    refused = [
        (admin.issue(principal_id, "{"), "malformed_json"),
        (admin.issue(principal_id, '{"expiresInDays": 0}'), "invalid_parameter"),
        (admin.issue(principal_id, '{"expiresInDays": "soon"}'), "invalid_parameter"),
        (admin.set_password(principal_id, '{"username": "ops", "password": "short"}'), "invalid_parameter"),
        (
            admin.set_password(principal_id, '{"username": "a b", "password": "long enough, surely"}'),
            "invalid_parameter",
        ),
        (admin.set_password(principal_id, "password"), "malformed_json"),
    ]
    for response, code in refused:
        assert (response.status, response.problem_code) == (400, code), response.body
    as_text = with_request(load_event(CREATE), headers={"Content-Type": "text/plain"})
    response = admin.call(as_text)
    assert (response.status, response.problem_code) == (415, "unsupported_media_type")
    assert admin.get(principal_id).json()["keys"] == []


@pytest.mark.parametrize(
    ("method", "resource", "parameters"),
    [
        ("GET", "/admin/principals/{principalId}", {"principalId": "p_short"}),
        ("GET", "/admin/principals/{principalId}", {"principalId": "P_" + "A" * 20}),
        ("DELETE", "/admin/principals/{principalId}", {"principalId": "../executions"}),
        ("DELETE", "/admin/keys/{keyId}", {"keyId": "key_XYZ"}),
        ("DELETE", "/admin/keys/{keyId}", {"keyId": "fpk_" + "a" * 43}),
    ],
)
def test_ids_of_the_wrong_form_are_refused(
    admin: Admin, method: str, resource: str, parameters: dict[str, str]
):
    response = admin.call(admin_event(method, resource, parameters))
    assert (response.status, response.problem_code) == (400, "invalid_parameter")


def test_unknown_ids_are_not_found(admin: Admin):
    assert admin.get(UNKNOWN_PRINCIPAL).problem_code == "principal_not_found"
    assert admin.issue(UNKNOWN_PRINCIPAL).problem_code == "principal_not_found"
    assert admin.delete(UNKNOWN_PRINCIPAL).problem_code == "principal_not_found"
    assert admin.revoke(UNKNOWN_KEY).problem_code == "key_not_found"


def test_a_method_a_path_lacks_is_405_naming_those_it_has(admin: Admin):
    response = admin.call(admin_event("PATCH", "/admin/principals"))
    assert (response.status, response.problem_code) == (405, "method_not_allowed")
    assert response.headers["allow"] == "GET, POST"


def test_an_issued_secret_and_a_password_are_never_logged(
    admin: Admin, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
):
    # flowport's own lines at DEBUG, the most it sets (botocore's DEBUG logs request bodies: README).
    with caplog.at_level(logging.DEBUG, logger="flowport"), HandlerStreams() as streams:
        observability.logger.info("zq-marker")  # the functions' logger, to show what it writes is captured
        principal_id = _created(admin)
        key = admin.issue(principal_id).json()
        admin.set_password(principal_id, json.dumps({"username": "ops", "password": "never-in-a-log-line"}))
        admin.set_password(principal_id, json.dumps({"username": "ops", "password": "zq-shrt"}))  # refused
        admin.issue(principal_id)
        admin.issue(principal_id)  # refused: two keys already
        admin.revoke(key["keyId"])
    output = capfd.readouterr()
    logged = "\n".join(
        [
            streams.buffer.getvalue(),
            output.out,
            output.err,
            *(record.getMessage() for record in caplog.records),
        ]
    )
    assert "zq-marker" in streams.buffer.getvalue()
    for secret in (key["secret"], credentials.key_hash(key["secret"]), "never-in-a-log-line", "zq-shrt"):
        assert secret not in logged
