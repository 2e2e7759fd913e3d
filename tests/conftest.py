"""Fixtures shared by every test: the stack from template.yaml, deployed into moto on demand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flowport import services
from flowport.local.cloud import FAKE_CREDENTIALS, LocalCloud, running
from flowport.local.template import Stack, build_stack

from tests.support import Api

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials everywhere, so nothing can reach a real account."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "FlowportTest")


@pytest.fixture(scope="session")
def stack() -> Stack:
    return build_stack(ROOT / "template.yaml")


@pytest.fixture
def cloud(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalCloud]:
    """moto with the whole stack deployed and Step Functions really executing."""
    for name in ("FLOWPORT_START_LEASE_SECONDS", "FLOWPORT_START_DEADLINE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    with running(stack) as deployed:
        yield deployed
    services.reset()


@pytest.fixture(scope="module")
def shared_cloud(stack: Stack) -> Iterator[LocalCloud]:
    """One deployed stack for a whole module (a deploy costs about a second), for tests that each leave
    nothing behind that another could see, such as requests refused before anything is written."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {**FAKE_CREDENTIALS, "POWERTOOLS_TRACE_DISABLED": "1"}.items():
            patch.setenv(name, value)
        services.reset()
        with running(stack) as deployed:
            yield deployed
        services.reset()


@pytest.fixture
def api(cloud: LocalCloud) -> Api:
    return Api(cloud.stack)
