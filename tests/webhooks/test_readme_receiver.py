"""README's receiver example, run as written (but for where it listens): flowport delivers an end to it,
it verifies the delivery with `standardwebhooks` and handles it once."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import pytest
from flowport import services
from flowport.local.cloud import LocalCloud

from tests.support import TICKET, Api, wait_until
from tests.webhooks.test_delivery import SAMPLE_PRINCIPAL, settled

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_receiver() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Webhooks") :]
    (code,) = re.findall(r"```python\n(.*?)```", section[: section.index("\n## ")], flags=re.DOTALL)
    return str(code)


@pytest.fixture
def receiver_module(
    cloud: LocalCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dict[str, Any], str]]:
    monkeypatch.setenv("FLOWPORT_WEBHOOK_CLOCK_SCALE", "0.00001")
    services.reset()
    secret = services.rotate_webhook_secret().rotate(SAMPLE_PRINCIPAL)
    (tmp_path / ".flowport").mkdir()
    (tmp_path / ".flowport" / "dev-webhook-secret").write_text(secret + "\n")
    monkeypatch.chdir(tmp_path)
    module: dict[str, Any] = {"__name__": "receiver"}  # not __main__: the example's server is ours to run
    exec(compile(readme_receiver(), "README.md", "exec"), module)
    server = HTTPServer(("127.0.0.1", 0), module["Receiver"])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield module, f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


def test_the_readme_receiver_verifies_and_handles_a_delivery_once(
    cloud: LocalCloud, receiver_module: tuple[dict[str, Any], str], capsys: pytest.CaptureFixture[str]
):
    module, url = receiver_module
    api = Api(cloud.stack)
    started = api.start(body=TICKET, query={"callbackUrl": url})
    assert started.status == 202, started.body
    execution_id = started.json()["executionId"]
    message = settled(api, execution_id)
    assert message["state"] == "delivered"
    assert [a["responseStatus"] for a in message["attempts"]] == [204]
    assert module["handled"] == {message["messageId"]}
    wait_until(lambda: execution_id in capsys.readouterr().out or None)
