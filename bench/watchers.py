"""Figure 7: what watching costs Step Functions. Many pollers and open event streams on a few running
executions for a while; counted: GetExecutionHistory calls per execution and second, whose quota (about 5
a second, refilled per account and region) every reader shares.

Each watcher calls the read use case itself (flowport.usecases.read), as one Lambda container would serve
it, on a thread of its own: the figure is about the live view's sharing of history reads, not about
routing, and the local server's handlers cannot yet serve this many requests at once without mixing up
their requests (Powertools keeps the current request in process-wide state; the local-fidelity issue).
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

from flowport import services
from flowport.aws import clients
from flowport.core import stream
from flowport.settings import get_settings

from tests.support import ADMIN, TICKET, Api, wait_until

POLLERS = 100
STREAMS = 10
EXECUTIONS = 10
SECONDS = 10.0
# An eager poller: a read, then this long (jittered) before the next.
POLL_PAUSE_SECONDS = 0.2
# A stream response waits this long at most before the client reconnects (25 s on AWS; shorter here so
# that reconnects, which read the execution afresh, are part of what is counted).
STREAM_RESPONSE_SECONDS = 3.0
TARGET_PER_EXECUTION_SECOND = 1.5


class _Counter:
    def __init__(self) -> None:
        self.value = 0
        self._lock = threading.Lock()

    def add(self, **_: Any) -> None:
        with self._lock:
            self.value += 1


def _running(api: Api) -> list[str]:
    """Executions that wait (ticket-triage's Wait) for longer than the figure runs."""
    started = [
        str(api.start(body={**TICKET, "delaySeconds": 600, "subject": f"watched {n}"}).json()["executionId"])
        for n in range(EXECUTIONS)
    ]
    store = services.execution_store()

    def all_running() -> bool:
        records = [store.get(execution_id, 0) for execution_id in started]
        return all(record is not None and record.status.value == "RUNNING" for record in records)

    wait_until(all_running)
    return started


def measure(api: Api) -> dict[str, Any]:
    executions = _running(api)
    reader = services.read_execution()
    history_calls, reads, looks = _Counter(), _Counter(), _Counter()
    deadline = time.monotonic() + SECONDS
    failures: list[str] = []

    def poll(execution_id: str) -> None:
        pause = random.Random(execution_id)
        while time.monotonic() < deadline:
            try:
                reader.status(execution_id, ADMIN)
                reads.add()
            except Exception as error:
                failures.append(f"poll: {type(error).__name__}: {error}")
            time.sleep(POLL_PAUSE_SECONDS * (0.5 + pause.random()))

    def watch(execution_id: str) -> None:
        cursor = stream.Cursor()
        ids = stream.EventIds(get_settings().token_secret, execution_id)

        def look(at: stream.Cursor) -> Any:
            looks.add()
            return reader.events(execution_id, ADMIN, at)

        while time.monotonic() < deadline:
            try:
                events = stream.wait_for_events(
                    look,
                    cursor,
                    ids,
                    max_seconds=min(STREAM_RESPONSE_SECONDS, max(0.0, deadline - time.monotonic())),
                    poll_seconds=1.0,
                )
            except Exception as error:
                failures.append(f"stream: {type(error).__name__}: {error}")
                continue
            if events:
                cursor = ids.parse(events[-1].id)

    watchers = [threading.Thread(target=poll, args=(executions[n % EXECUTIONS],)) for n in range(POLLERS)] + [
        threading.Thread(target=watch, args=(executions[n % EXECUTIONS],)) for n in range(STREAMS)
    ]
    hook = "before-call.sfn.GetExecutionHistory"
    clients.stepfunctions().meta.events.register(hook, history_calls.add)
    started = time.monotonic()
    try:
        for thread in watchers:
            thread.start()
        for thread in watchers:
            thread.join()
    finally:
        clients.stepfunctions().meta.events.unregister(hook, history_calls.add)
    seconds = round(time.monotonic() - started, 1)
    for execution_id in executions:
        api.cancel(execution_id)
    per_execution_second = round(history_calls.value / (EXECUTIONS * seconds), 3)
    return {
        "pollers": POLLERS,
        "streams": STREAMS,
        "executions": EXECUTIONS,
        "seconds": seconds,
        "history_calls": history_calls.value,
        "history_calls_per_execution_second": per_execution_second,
        "status_reads": reads.value,
        "stream_looks": looks.value,
        "failures": failures[:5],
        "_target": TARGET_PER_EXECUTION_SECOND,
    }
