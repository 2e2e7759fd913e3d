"""Fixtures shared by every test: the stack from template.yaml, deployed into moto on demand."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from flowport import services
from flowport.local.cloud import FAKE_CREDENTIALS, LocalCloud, running
from flowport.local.template import Stack, build_stack

from tests.support import Api, settings_for_tests

SETTINGS_OF_THE_LOCAL_STACK = {
    "FLOWPORT_TABLE_NAME": settings_for_tests().table_name,
    "FLOWPORT_STATE_MACHINE_ARN_PREFIX": settings_for_tests().state_machine_arn_prefix,
}

ROOT = Path(__file__).resolve().parents[1]
# `make test` runs the suite a second time with the wall clock this many days ahead (time-machine moves
# time.time and datetime.now for every thread, moto's included; sleeps and monotonic clocks are real), so
# that a test which compares against a date written in a fixture fails today, not on a later day.
CLOCK_SHIFT_VARIABLE = "FLOWPORT_TEST_CLOCK_SHIFT_DAYS"


def pytest_configure(config: pytest.Config) -> None:
    """Before collection, so module-level times are taken on the moved clock too."""
    shift = os.environ.get(CLOCK_SHIFT_VARIABLE)
    if shift:
        traveller = time_machine.travel(datetime.now(UTC) + timedelta(days=int(shift)), tick=True)
        traveller.start()
        config.add_cleanup(traveller.stop)


def pytest_report_header() -> str | None:
    shift = os.environ.get(CLOCK_SHIFT_VARIABLE)
    return f"clock moved {shift} days ahead: {datetime.now(UTC).isoformat()}" if shift else None


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials everywhere, so nothing can reach a real account."""
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    # The local stack's names, so that a function module imported outside a deployed stack starts.
    for name, value in SETTINGS_OF_THE_LOCAL_STACK.items():
        monkeypatch.setenv(name, value)
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
        for name, value in FAKE_CREDENTIALS.items():
            patch.setenv(name, value)
        services.reset()
        with running(stack) as deployed:
            yield deployed
        services.reset()


@pytest.fixture
def api(cloud: LocalCloud) -> Api:
    return Api(cloud.stack)
