"""Figure 2: AWS calls per operation, counted with the tests' botocore hook (tests.support.CallLog) on the
handlers' shared clients, in one embedded moto. The scenarios are those of tests/test_call_counts.py."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

from flowport import services
from flowport.aws import clients
from flowport.core.identity import Action, Scopes
from flowport.core.principals import NewKey, NewPassword, NewPrincipal
from flowport.settings import get_settings
from flowport.usecases.authorize import Authorize, AuthRequest

from bench.stats import median
from tests.support import TICKET, Api, calls_recorded, wait_until

TARGETS = {
    # Every start takes its workflow's slot (issue 14): one call more than the two it was.
    "start_new": 3,
    "start_replay": 1,
    "start_conflict": 1,
    "status_finished": 1,
    "status_running_fresh": 1,
    "cancel": 3,
    # The authorizer on a miss of its cache (issue 13): one GetItem for a key, one for a user name.
    "authorize_key": 1,
    "authorize_basic": 1,
    # Admission control (issue 14): a start of a limited workflow with a free slot (at most one more than a
    # start was), one that has to wait, and the end that hands its slot to the next waiting one. A start
    # that waits was 2 calls; its second take (flowport.usecases.admission.Admission.recheck) is the third.
    "start_with_slot": 3,
    "start_queued": 3,
    "release_and_dispatch": 4,
}
LIMITED = "partner-sync"
PUSH = {"batchId": "bench", "seconds": 600}
# Dispatch latency: pairs of a short execution ending and the waiting one its end starts.
DISPATCH_PAIRS = 5
SLOW = {**TICKET, "delaySeconds": 600}
# A page of the unfiltered search (GET /executions?limit=10), filled by today's records.
LIST_LIMIT = 10


def _keyed(key: str, strategy: str) -> dict[str, str | None]:
    return {"Idempotency-Key": key, "X-On-Conflict": strategy}


def finished_execution(api: Api) -> str:
    execution_id = str(api.start().json()["executionId"])
    store = services.execution_store()
    wait_until(lambda: (record := store.get(execution_id, 0)) is not None and record.status.is_terminal)
    return execution_id


def running_execution(api: Api, body: dict[str, Any] | None = None, headers: Any = None) -> str:
    execution_id = str(api.start(body=body or SLOW, headers=headers).json()["executionId"])
    wait_until(lambda: api.get(execution_id).json().get("currentNode") == "WaitForAgentPool")
    store = services.execution_store()
    wait_until(
        lambda: (record := store.get(execution_id, 0)) is not None and record.status.value == "RUNNING"
    )
    return execution_id


def _aged_then(read: Callable[[], Any]) -> Any:
    """`read` once the live view has aged (no AWS call is made while it ages)."""
    time.sleep(get_settings().live_view_seconds)
    return read()


def _authorizer_misses() -> tuple[Callable[[], Any], Callable[[], Any]]:
    """Two decisions of an authorizer whose cache is empty: by an API key, by a user name and password."""
    admin = services.manage_principals()
    scopes = Scopes(workflows=("ticket-triage",), actions=(Action.START, Action.READ))
    principal = admin.create(NewPrincipal(name="bench", scopes=scopes))
    secret = admin.issue_key(principal.principal_id, NewKey()).secret
    admin.set_password(principal.principal_id, NewPassword(username="bench", password=BENCH_PASSWORD))
    basic = base64.b64encode(f"bench:{BENCH_PASSWORD}".encode()).decode()

    def decide(headers: dict[str, str]) -> Any:
        fresh = Authorize(services.principal_store(), services.registry(), cache_seconds=300)
        return fresh.decide(AuthRequest(headers, "/executions/{executionId}", {"executionId": "e"}))

    return (lambda: decide({"X-API-Key": secret}), lambda: decide({"Authorization": f"Basic {basic}"}))


BENCH_PASSWORD = "bench-password-of-the-run"


def measure(api: Api) -> dict[str, Any]:
    keyed = running_execution(api, headers=_keyed("bench-replay", "RETURN_EXISTING"))
    finished = finished_execution(api)
    running = running_execution(api)
    to_cancel = running_execution(api)
    for _ in range(LIST_LIMIT):
        api.start()
    api.search(limit=str(LIST_LIMIT))
    by_key, by_password = _authorizer_misses()
    first_push = str(api.start(LIMITED, PUSH).json()["executionId"])
    with calls_recorded() as log:
        operations = {
            "start_new": log.during(lambda: api.start()),
            "start_replay": log.during(
                lambda: api.start(body=SLOW, headers=_keyed("bench-replay", "RETURN_EXISTING"))
            ),
            "start_conflict": log.during(
                lambda: api.start(body=SLOW, headers=_keyed("bench-replay", "FAIL"))
            ),
            "status_finished": log.during(lambda: api.get(finished)),
            # The first read after its live view aged refreshes it; the reads after it share that one.
            "status_running_stale": log.during(lambda: _aged_then(lambda: api.get(running))),
            "status_running_fresh": log.during(lambda: api.get(running)),
            "cancel": log.during(lambda: api.cancel(to_cancel)),
            "list_page": log.during(lambda: api.search(limit=str(LIST_LIMIT))),
            "authorize_key": log.during(by_key),
            "authorize_basic": log.during(by_password),
            "start_with_slot": log.during(lambda: api.start(LIMITED, PUSH)),
            "start_queued": log.during(lambda: api.start(LIMITED, PUSH)),
            # As the sync function runs it for the first push's end (which, as measured, still runs on).
            "release_and_dispatch": log.during(
                lambda: services.admission().release_and_dispatch(LIMITED, first_push, 0)
            ),
        }
    for execution_id in (keyed, running):
        api.cancel(execution_id)
    _cancel_every(api, LIMITED)
    figures: dict[str, Any] = {name: len(calls) for name, calls in operations.items()}
    figures["_calls"] = operations
    figures["_targets"] = TARGETS
    return figures


def _cancel_every(api: Api, workflow: str) -> None:
    for item in api.search(workflow=workflow, limit="100").json()["items"]:
        if item["status"] in ("QUEUED", "RUNNING"):
            api.cancel(item["executionId"])
    slots = services.slot_store()
    wait_until(lambda: slots.read(workflow).running == 0, timeout=30)


def dispatch_latency(api: Api) -> dict[str, Any]:
    """From an end to the StartExecution of the waiting execution it frees a slot for, locally: Step
    Functions' stop date of one and start date of the other, through the local EventBridge and the sync
    function's hand-over."""
    sfn = clients.stepfunctions()
    gaps = []
    for pair in range(DISPATCH_PAIRS):
        blocker = str(api.start(LIMITED, {**PUSH, "batchId": f"blocker-{pair}"}).json()["executionId"])
        ending = str(api.start(LIMITED, {"batchId": f"ending-{pair}", "seconds": 1}).json()["executionId"])
        waiting = str(api.start(LIMITED, {"batchId": f"waiting-{pair}", "seconds": 0}).json()["executionId"])
        _wait_for_end(waiting)
        ended = sfn.describe_execution(executionArn=_arn_of(ending))["stopDate"]
        started = sfn.describe_execution(executionArn=_arn_of(waiting))["startDate"]
        gaps.append((started - ended).total_seconds() * 1000)
        api.cancel(blocker)
        wait_until(lambda: services.slot_store().read(LIMITED).running == 0, timeout=30)
    return {"p50_ms": round(median(gaps), 1), "max_ms": round(max(gaps), 1), "pairs": DISPATCH_PAIRS}


def _wait_for_end(execution_id: str) -> None:
    store = services.execution_store()
    wait_until(lambda: (r := store.get(execution_id, 0)) is not None and r.status.is_terminal, timeout=60)


def _arn_of(execution_id: str) -> str:
    record = services.execution_store().get(execution_id, 0)
    assert record is not None
    return record.execution_arn
