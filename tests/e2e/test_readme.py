"""The README's examples, run as written against the local server."""

from __future__ import annotations

import io
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flowport.local.cloud import LocalCloud
from flowport.local.server import serving

from tests.support import KeyedServer, keyed

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"
DEV_KEY = "$(cat .flowport/dev-admin-key)"  # what `flowport dev` writes its admin key to


@pytest.fixture
def server(cloud: LocalCloud) -> Iterator[KeyedServer]:
    with serving(cloud.stack, log=io.StringIO()) as running:
        yield keyed(running)


def example(starting_with: str) -> list[list[str]]:
    """The curl commands of the README's shell example that starts with this comment, up to a blank line,
    each as its words (continued lines joined, trailing comments dropped)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(starting_with)
    block = text[start : text.index("\n\n", start)].replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.startswith("curl")]


def run_curl(words: list[str], server: KeyedServer, key: str | None = None) -> requests.Response:
    """The few curl options the README uses: -s, -X, -H, -d, and the URL; the dev key file's
    `$(cat ...)` is the server's admin key (or `key`)."""
    method, headers, data, url = "GET", {}, None, None
    options = iter(words[1:])
    for word in options:
        if word == "-X":
            method = next(options)
        elif word == "-H":
            name, _, value = next(options).partition(":")
            headers[name.strip()] = value.strip().replace(DEV_KEY, key if key is not None else server.key)
        elif word == "-d":
            data, method = next(options), "POST" if method == "GET" else method
        elif word.startswith("localhost:3000"):
            url = server.url + word.removeprefix("localhost:3000")
        else:
            assert word == "-s", f"an option this runner does not know: {word}"
    assert url is not None, words
    return requests.request(method, url, headers=headers, data=data, timeout=10)


def test_the_search_by_input_field_example_finds_what_it_says(server: KeyedServer):
    commands = example("# by an input field the workflow declares searchable")
    *starts, search = commands
    started: list[dict[str, Any]] = []
    for command in starts:
        response = run_curl(command, server)
        assert response.status_code == 202, (command, response.text)
        started.append(response.json())
    # One of them as a string, one as a number: the README says the text finds both.
    bodies = [json.loads(command[command.index("-d") + 1]) for command in starts]
    assert sorted(type(body["customerId"]).__name__ for body in bodies) == ["int", "str"]
    assert re.search(r"input\.customerId=42\b", search[-1])
    found = run_curl(search, server)
    assert found.status_code == 200, found.text
    assert {item["executionId"] for item in found.json()["items"]} == {s["executionId"] for s in started}


def test_every_curl_example_sends_the_dev_key_and_fails_without_a_valid_one(server: KeyedServer):
    text = README.read_text(encoding="utf-8").replace("\\\n", " ")
    commands = [shlex.split(line, comments=True) for line in text.splitlines() if line.startswith("curl")]
    assert commands
    for command in commands:
        public = any(word.endswith("/openapi.json") for word in command)
        assert public or f"X-API-Key: {DEV_KEY}" in command, command
    search = next(command for command in commands if command[1:3] == ["-s", "-H"] and "-d" not in command)
    refused = run_curl(search, server, key="fpk_" + "0" * 43)
    assert (refused.status_code, refused.json()["code"]) == (401, "unauthorized")


def test_the_concurrency_example_runs_two_and_queues_three_in_priority_order(server: KeyedServer):
    *pushes, load = example("# partner-sync runs two at once")
    answers = []
    for command in pushes:
        response = run_curl(command, server)
        assert response.status_code == 202, (command, response.text)
        answers.append(response.json())
    assert [answer["status"] for answer in answers] == ["RUNNING", "RUNNING", "QUEUED", "QUEUED", "QUEUED"]
    shown = run_curl(load, server).json()
    assert (shown["maxConcurrency"], shown["running"], shown["queued"]) == (2, 2, 3)
    (status,) = example("# each waiting one's place")
    positions = {}
    for answer in answers[2:]:
        words = [word.replace("<executionId>", answer["executionId"]) for word in status]
        document = run_curl(words, server).json()
        positions[document["input"]["batchId"]] = document["queuePosition"]
    assert positions == {"b4": 1, "b5": 2, "b3": 3}  # as the comment says
    for answer in answers:  # leave nothing running behind
        server.http.delete(f"{server.url}/executions/{answer['executionId']}", timeout=10)
