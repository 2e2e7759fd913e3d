"""DNS and HTTP to callback URLs: the CallbackTransport port.

The connection goes to the address that was checked (flowport.core.webhooks.allowed_address), not to a
second lookup of the name, so DNS cannot answer a public address to the check and a private one to the
connection; TLS still verifies the certificate against the URL's host (SNI and hostname check). No
redirect is followed: a 3xx is an answer like any other non-2xx. urllib3 ships with boto3 in every Lambda
Python runtime, so this needs nothing more in the dependencies layer.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

import urllib3

from flowport.core.ports import CallbackAnswer
from flowport.core.webhooks import CallbackTarget

USER_AGENT = "flowport-webhooks/1"


class HttpCallbacks:
    def __init__(self) -> None:
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}

    def resolve(self, host: str, port: int) -> list[str]:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            return []
        return list(dict.fromkeys(str(entry[4][0]) for entry in found))

    def post(
        self, target: CallbackTarget, address: str, headers: Mapping[str, str], body: bytes, timeout: float
    ) -> CallbackAnswer:
        pool = self._pool(target, address)
        host_header = target.host if target.port in (80, 443) else f"{target.host}:{target.port}"
        try:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers={
                    **headers,
                    "Host": host_header,
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                },
                redirect=False,
                retries=False,
                timeout=urllib3.Timeout(total=timeout),
                preload_content=False,
                assert_same_host=False,
            )
        except urllib3.exceptions.HTTPError as error:
            return CallbackAnswer(None, error=type(error).__name__)
        # The body is never read beyond what closing needs: receivers answer with anything.
        response.drain_conn()
        response.release_conn()
        return CallbackAnswer(response.status, retry_after=response.headers.get("Retry-After"))

    def _pool(self, target: CallbackTarget, address: str) -> urllib3.HTTPConnectionPool:
        key = (target.scheme, address, target.port, target.host)
        pool = self._pools.get(key)
        if pool is None:
            if target.scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    address,
                    target.port,
                    server_hostname=target.host,
                    assert_hostname=target.host,
                    cert_reqs="CERT_REQUIRED",
                    maxsize=1,
                )
            else:
                pool = urllib3.HTTPConnectionPool(address, target.port, maxsize=1)
            self._pools[key] = pool
        return pool
