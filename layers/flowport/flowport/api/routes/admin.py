"""Admin routes: principals and their credentials, for callers whose scopes include `admin`.

An issued key's secret is in the answer that issues it and nowhere else: not in a log line, not in any
later answer (flowport keeps only its SHA-256), and that answer is `Cache-Control: no-store`.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.request import Request

from flowport import services
from flowport.api.caller import CallerOf
from flowport.api.paths import api_base
from flowport.api.problems import problem_responses
from flowport.api.query import takes_query
from flowport.api.responses import json_response
from flowport.api.security import ANY_CREDENTIAL
from flowport.core.identity import Action, Caller
from flowport.core.models import CallbackHosts, IssuedWebhookSecret
from flowport.core.principals import IssuedKey, NewKey, NewPassword, NewPrincipal, Principal, PrincipalList
from flowport.usecases.admin import ManagePrincipals

router = Router()

PrincipalIdPath = Annotated[
    str, Path(alias="principalId", pattern=r"^p_[a-z0-9]{20}$", description="The principal's id")
]
KeyIdPath = Annotated[str, Path(alias="keyId", pattern=r"^key_[0-9a-f]{16}$", description="The key's id")]
TAGS = ["admin"]
# Every admin route answers these besides its own.
_PROBLEMS = (400, 401, 403, 503)


def _managed_by(caller: Caller) -> ManagePrincipals:
    caller.require(Action.ADMIN)
    return services.manage_principals()


def _no_content() -> Response[str]:
    return Response(status_code=204, body="")


@router.post(
    "/admin/principals",
    summary="Create a principal",
    description="A caller with scopes: the workflows it may touch (names, or `*`) and the actions it may "
    "take. It has no credential until a key is issued or a password set.",
    responses={
        201: {
            "description": "Created; `Location` names it",
            "content": {"application/json": {"model": Principal}},
        },
        **problem_responses(*_PROBLEMS, 415),
    },
    tags=TAGS,
    operation_id="createPrincipal",
    security=ANY_CREDENTIAL,
)
@takes_query()
def create_principal(
    caller: CallerOf, request: Request, body: Annotated[NewPrincipal, Body()]
) -> Response[str]:
    principal = _managed_by(caller).create(body)
    location = f"{api_base(request)}/admin/principals/{principal.principal_id}"
    return json_response(principal, 201, headers={"Location": location})


@router.get(
    "/admin/principals",
    summary="List the principals",
    responses={
        200: {
            "description": "Every principal, with its keys' ids",
            "content": {"application/json": {"model": PrincipalList}},
        },
        **problem_responses(*_PROBLEMS),
    },
    tags=TAGS,
    operation_id="listPrincipals",
    security=ANY_CREDENTIAL,
)
@takes_query()
def list_principals(caller: CallerOf) -> Response[str]:
    return json_response(_managed_by(caller).principals())


@router.get(
    "/admin/principals/<principalId>",
    summary="Read a principal",
    responses={
        200: {"description": "The principal", "content": {"application/json": {"model": Principal}}},
        **problem_responses(*_PROBLEMS, 404),
    },
    tags=TAGS,
    operation_id="getPrincipal",
    security=ANY_CREDENTIAL,
)
@takes_query()
def get_principal(caller: CallerOf, principal_id: PrincipalIdPath) -> Response[str]:
    return json_response(_managed_by(caller).principal(principal_id))


@router.delete(
    "/admin/principals/<principalId>",
    summary="Delete a principal and every credential of it",
    description="Its keys and password stop working within the authorizer's cache time.",
    responses={204: {"description": "Deleted"}, **problem_responses(*_PROBLEMS, 404)},
    tags=TAGS,
    operation_id="deletePrincipal",
    security=ANY_CREDENTIAL,
)
@takes_query()
def delete_principal(caller: CallerOf, principal_id: PrincipalIdPath) -> Response[str]:
    _managed_by(caller).delete(principal_id)
    return _no_content()


@router.post(
    "/admin/principals/<principalId>/keys",
    summary="Issue an API key",
    description="The answer holds the key's secret, the only time it is ever shown. A principal holds at "
    "most two keys, so that one can be replaced while the other still works (409 `key_limit_reached`).",
    responses={
        201: {"description": "Issued", "content": {"application/json": {"model": IssuedKey}}},
        **problem_responses(*_PROBLEMS, 404, 409, 415),
    },
    tags=TAGS,
    operation_id="issueKey",
    security=ANY_CREDENTIAL,
)
@takes_query()
def issue_key(
    caller: CallerOf, principal_id: PrincipalIdPath, body: Annotated[NewKey | None, Body()] = None
) -> Response[str]:
    issued = _managed_by(caller).issue_key(principal_id, body or NewKey())
    # The secret must not stay in any cache between here and the client (RFC 9111 §5.2.2.5).
    return json_response(issued, 201, headers={"Cache-Control": "no-store"})


@router.delete(
    "/admin/keys/<keyId>",
    summary="Revoke an API key",
    description="It stops working within the authorizer's cache time (`FLOWPORT_AUTH_CACHE_SECONDS`).",
    responses={204: {"description": "Revoked"}, **problem_responses(*_PROBLEMS, 404)},
    tags=TAGS,
    operation_id="revokeKey",
    security=ANY_CREDENTIAL,
)
@takes_query()
def revoke_key(caller: CallerOf, key_id: KeyIdPath) -> Response[str]:
    _managed_by(caller).revoke_key(key_id)
    return _no_content()


@router.put(
    "/admin/principals/<principalId>/password",
    summary="Set a principal's user name and password",
    description="For Basic authentication. Replaces its previous ones; a user name another principal has is "
    "409 `username_taken`.",
    responses={
        200: {
            "description": "The principal, with its user name",
            "content": {"application/json": {"model": Principal}},
        },
        **problem_responses(*_PROBLEMS, 404, 409, 415),
    },
    tags=TAGS,
    operation_id="setPassword",
    security=ANY_CREDENTIAL,
)
@takes_query()
def set_password(
    caller: CallerOf, principal_id: PrincipalIdPath, body: Annotated[NewPassword, Body()]
) -> Response[str]:
    return json_response(_managed_by(caller).set_password(principal_id, body))


@router.post(
    "/admin/principals/<principalId>/webhook-secret",
    summary="Create or rotate a principal's webhook signing secret",
    description="The answer holds the new `whsec_` secret, the only time it is ever shown. Deliveries of "
    "the executions the principal starts with a callback are signed with it; after a rotation the previous "
    "secret signs them too for 24 hours (two signatures), so receivers can switch without losing any.",
    responses={
        201: {"description": "Created", "content": {"application/json": {"model": IssuedWebhookSecret}}},
        **problem_responses(*_PROBLEMS, 404),
    },
    tags=TAGS,
    operation_id="rotateWebhookSecret",
    security=ANY_CREDENTIAL,
)
@takes_query()
def rotate_webhook_secret(caller: CallerOf, principal_id: PrincipalIdPath) -> Response[str]:
    _managed_by(caller).principal(principal_id)  # 404 for a principal that does not exist
    secret = services.rotate_webhook_secret().rotate(principal_id)
    issued = IssuedWebhookSecret(principal_id=principal_id, secret=secret)
    return json_response(issued, 201, headers={"Cache-Control": "no-store"})


@router.put(
    "/admin/principals/<principalId>/callback-hosts",
    summary="Set the hosts a principal's callbacks may go to",
    description="An allowlist of its own (besides a workflow's `callbackHosts`): every callback of a start "
    "by this principal must then go to one of these hosts. Empty: none. The principal needs a webhook "
    "secret first (400 `webhook_secret_missing`).",
    responses={
        200: {"description": "Its allowlist", "content": {"application/json": {"model": CallbackHosts}}},
        **problem_responses(*_PROBLEMS, 404, 415),
    },
    tags=TAGS,
    operation_id="setCallbackHosts",
    security=ANY_CREDENTIAL,
)
@takes_query()
def set_callback_hosts(
    caller: CallerOf, principal_id: PrincipalIdPath, body: Annotated[CallbackHosts, Body()]
) -> Response[str]:
    _managed_by(caller).principal(principal_id)  # 404 for a principal that does not exist
    hosts = services.rotate_webhook_secret().set_callback_hosts(principal_id, body.callback_hosts)
    return json_response(CallbackHosts(callback_hosts=list(hosts)))
