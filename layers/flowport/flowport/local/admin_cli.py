"""`flowport principals|keys|passwords ...`: the admin routes from a shell, and `flowport admin bootstrap`,
which writes a deployed stack's first admin straight into its table.

The HTTP part is flowport.client's. What a command makes is printed alone on stdout
(`KEY=$(flowport keys issue P)`), everything else on stderr.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from flowport.client import DEFAULT_URL as DEFAULT_URL
from flowport.client import FlowportApiError, FlowportClient

URL_VARIABLE, KEY_VARIABLE = "FLOWPORT_URL", "FLOWPORT_API_KEY"


class CommandError(Exception):
    """Why a command could not run; printed on stderr, and the command exits non-zero."""


# -- the commands ------------------------------------------------------------------------------------


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    principals = commands.add_parser("principals", help="create, list and delete principals").add_subparsers(
        dest="action", required=True
    )
    create = principals.add_parser("create", help="create a principal; prints its id")
    create.add_argument("name")
    create.add_argument("--workflows", required=True, help="comma-separated workflow names, or '*'")
    create.add_argument("--actions", required=True, help="comma-separated: start, read, cancel, retry, admin")
    create.add_argument(
        "--own-executions-only", action="store_true", help="may read and cancel only what it started"
    )
    principals.add_parser("list", help="list the principals and their keys' ids")
    principals.add_parser("delete", help="delete a principal and every credential of it").add_argument("id")

    keys = commands.add_parser("keys", help="issue and revoke API keys").add_subparsers(
        dest="action", required=True
    )
    issue = keys.add_parser("issue", help="issue a key; prints its secret alone, once")
    issue.add_argument("principal")
    issue.add_argument("--expires-in-days", type=int, default=None)
    keys.add_parser("revoke", help="revoke a key").add_argument("key_id")

    passwords = commands.add_parser("passwords", help="set user names and passwords").add_subparsers(
        dest="action", required=True
    )
    password = passwords.add_parser("set", help="set a principal's user name and password (read from stdin)")
    password.add_argument("principal")
    password.add_argument("username")

    admin = commands.add_parser("admin", help="set up a deployed stack").add_subparsers(
        dest="action", required=True
    )
    bootstrap = admin.add_parser(
        "bootstrap",
        help="write the first admin principal and key into a deployed stack's table with your AWS "
        "credentials; prints the key once",
    )
    bootstrap.add_argument("--table", required=True, help="the stack's ExecutionsTableName output")
    bootstrap.add_argument("--region", default=None, help="default: your AWS configuration's")
    bootstrap.add_argument("--name", default="admin", help="the principal's name (default: admin)")


def run(arguments: argparse.Namespace) -> int:
    try:
        if arguments.command == "admin":
            _bootstrap(arguments)
        else:
            api_key = os.environ.get(KEY_VARIABLE)
            if not api_key:
                raise CommandError(f"set {KEY_VARIABLE} to an admin principal's API key")
            with FlowportClient(arguments.url, api_key) as client:
                _API_ACTIONS[arguments.command, arguments.action](client, arguments)
    except (CommandError, FlowportApiError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except httpx.TransportError as error:
        print(f"error: cannot reach {arguments.url}: {error}", file=sys.stderr)
        return 1
    return 0


def _create_principal(client: FlowportClient, arguments: argparse.Namespace) -> None:
    principal = client.request(
        "POST",
        "/admin/principals",
        {
            "name": arguments.name,
            "scopes": {
                "workflows": _listed(arguments.workflows),
                "actions": _listed(arguments.actions),
                "ownExecutionsOnly": arguments.own_executions_only,
            },
        },
    )
    print(principal["principalId"])
    _note(f"created principal {principal['principalId']} ({principal['name']}): {_scopes(principal)}")


def _list_principals(client: FlowportClient, _: argparse.Namespace) -> None:
    for principal in client.request("GET", "/admin/principals")["principals"]:
        keys = ",".join(key["keyId"] for key in principal.get("keys", [])) or "-"
        user = principal.get("username", "-")
        print("\t".join((principal["principalId"], principal["name"], _scopes(principal), keys, user)))


def _delete_principal(client: FlowportClient, arguments: argparse.Namespace) -> None:
    client.request("DELETE", f"/admin/principals/{quote(arguments.id, safe='')}")
    _note(f"deleted principal {arguments.id} and its credentials")


def _issue_key(client: FlowportClient, arguments: argparse.Namespace) -> None:
    body = {} if arguments.expires_in_days is None else {"expiresInDays": arguments.expires_in_days}
    issued = client.request("POST", f"/admin/principals/{quote(arguments.principal, safe='')}/keys", body)
    print(issued["secret"])
    _issued(issued)


def _revoke_key(client: FlowportClient, arguments: argparse.Namespace) -> None:
    client.request("DELETE", f"/admin/keys/{quote(arguments.key_id, safe='')}")
    _note(f"revoked {arguments.key_id}: it stops working within the authorizer's cache time")


def _set_password(client: FlowportClient, arguments: argparse.Namespace) -> None:
    # Never an argument: it would be in the shell's history and in every process listing.
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {arguments.username}: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    path = f"/admin/principals/{quote(arguments.principal, safe='')}/password"
    client.request("PUT", path, {"username": arguments.username, "password": password})
    _note(f"principal {arguments.principal} now signs in as {arguments.username}")


_API_ACTIONS = {
    ("principals", "create"): _create_principal,
    ("principals", "list"): _list_principals,
    ("principals", "delete"): _delete_principal,
    ("keys", "issue"): _issue_key,
    ("keys", "revoke"): _revoke_key,
    ("passwords", "set"): _set_password,
}


def _bootstrap(arguments: argparse.Namespace) -> None:
    """The first admin of a deployed stack, written with the caller's own AWS credentials (boto3's default
    chain): no default password and no key in the template, and only who may write the table can do it."""
    import boto3

    from flowport.aws.principals import PrincipalStore
    from flowport.core.registry import Registry
    from flowport.usecases.admin import ManagePrincipals

    client = boto3.client("dynamodb", region_name=arguments.region)
    # An admin's scopes are every workflow by `*`, so no workflow name needs checking against a registry.
    manage = ManagePrincipals(PrincipalStore(client, arguments.table), Registry({}))
    issued = manage.bootstrap_admin(arguments.name).model_dump(mode="json", by_alias=True, exclude_none=True)
    print(issued["secret"])
    _issued(issued)


def _issued(issued: Mapping[str, Any]) -> None:
    expiry = f", expires {issued['expiresAt']}" if "expiresAt" in issued else ""
    _note(
        f"issued {issued['keyId']} to principal {issued['principalId']}{expiry}; its secret is on stdout, "
        "shown this once"
    )


def _listed(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _scopes(principal: Mapping[str, Any]) -> str:
    scopes = principal["scopes"]
    own = " (own executions only)" if scopes.get("ownExecutionsOnly") else ""
    return f"workflows {','.join(scopes['workflows'])}; actions {','.join(scopes['actions'])}{own}"


def _note(text: str) -> None:
    print(text, file=sys.stderr)
