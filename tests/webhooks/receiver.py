"""A webhook receiver on 127.0.0.1 for the tests: it verifies each delivery with the `standardwebhooks`
package and answers as its path says, so one receiver serves every behaviour a test asks for.

Paths: `/ok`; `/fail/<n>` (500 to the first n deliveries of a message, then 200); `/always-fail`;
`/slow/<seconds>` (answers 200 that late); `/limited/<seconds>` (429 or 503 with Retry-After, then 200);
`/gone` (410); `/redirect` (302 to the metadata address).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    payload: Any | None  # None when the signature did not verify
    at: float = field(default_factory=time.monotonic)
    received_at: float = field(default_factory=time.time)  # to compare with an execution's stop date


class Receiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError:
                    payload = None
                status, extra = receiver.answer(self.path, headers.get("webhook-id", ""))
                receiver._keep(Delivery(self.path, headers, body, payload))
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _keep(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def seen(self, message_id: str) -> int:
        with self._lock:
            return sum(1 for d in self.deliveries if d.headers.get("webhook-id") == message_id)

    def answer(self, path: str, message_id: str) -> tuple[int, dict[str, str]]:
        kind, _, argument = path.split("?", 1)[0].strip("/").partition("/")
        before = self.seen(message_id)
        if kind == "fail":
            return (500, {}) if before < int(argument) else (200, {})
        if kind == "always-fail":
            return 500, {}
        if kind == "slow":
            time.sleep(float(argument))  # the receiver is slow: that is what this path is for
            return 200, {}
        if kind == "limited":
            return ((429 if before == 0 else 503), {"Retry-After": argument}) if before < 2 else (200, {})
        if kind == "gone":
            return 410, {}
        if kind == "redirect":
            return 302, {"Location": "http://169.254.169.254/latest/meta-data/"}
        return 200, {}

    def serve(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def receiving(secret: str) -> Iterator[Receiver]:
    receiver = Receiver(secret)
    thread = threading.Thread(target=receiver.serve, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.close()
        thread.join(5)
