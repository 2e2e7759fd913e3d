"""Figure 3: handler overhead. Each route's handler runs in-process on moto, interleaved with a bare
function that makes the same AWS calls (same shared clients, the very parameters the handler sent,
captured with a botocore hook) with no Powertools, no pydantic, no validation. The ratio is of the p50s.

Each timed call starts with the emulator at rest: the executions earlier calls started have ended and
their status-change events were delivered. Otherwise a call is charged for moto running other calls'
workflows in this process, work that AWS does elsewhere.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any, Protocol

from botocore import xform_name
from botocore.exceptions import ClientError
from flowport import services
from flowport.aws import clients
from flowport.local.cloud import LocalCloud
from flowport.local.functions import invoke
from flowport.local.template import ApiRoute

from bench.calls import LIST_LIMIT, finished_execution, running_execution
from bench.stats import ms, percentile, ratio
from tests.support import TICKET, Api, load_event, wait_until, with_request

TARGET_RATIO = 1.3
LIVE_VIEW_SECONDS = "FLOWPORT_LIVE_VIEW_SECONDS"


class Idle(Protocol):
    def idle(self) -> bool: ...


Call = tuple[str, str, dict[str, Any]]  # service id, operation, parameters


class ParameterLog:
    """The API parameters of each call made on the shared clients while recording."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._thread = threading.get_ident()

    def record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        # Only this thread's: the local EventBridge runs the sync function on its own meanwhile.
        if threading.get_ident() == self._thread:
            self.calls.append((model.service_model.service_id.hyphenize(), model.name, copy.deepcopy(params)))

    def during(self, action: Callable[[], Any]) -> list[Call]:
        hooked = (clients.dynamodb(), clients.stepfunctions())
        self.calls = []
        for client in hooked:
            client.meta.events.register("before-parameter-build.*.*", self.record)
        try:
            action()
        finally:
            for client in hooked:
                client.meta.events.unregister("before-parameter-build.*.*", self.record)
        return self.calls


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {key: _replace(item, old, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace(item, old, new) for item in value]
    return value


def bare(calls: list[Call], old_id: str | None = None) -> Callable[[str | None], dict[str, Any]]:
    """A handler stand-in: the captured calls made with bare boto3, the last answer as a JSON body."""
    methods: dict[str, Any] = {"dynamodb": clients.dynamodb(), "sfn": clients.stepfunctions()}

    def handler(new_id: str | None = None) -> dict[str, Any]:
        response: Any = None
        for service, operation, params in calls:
            arguments = _replace(params, old_id, new_id) if old_id and new_id else params
            client = methods[service]
            try:
                response = getattr(client, xform_name(operation))(**arguments)
            except ClientError as error:
                # As the store does: a cancel's last write loses to the sync function's ABORTED at times.
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                response = None
        return {"statusCode": 200, "body": json.dumps(response, default=str)}

    return handler


class AtRest:
    """Rest is the moment it is made: no status-change event undelivered, and so many threads (moto runs
    each execution on a thread of its own; parked ones count as rest). Calling it waits for rest again."""

    def __init__(self, events: Idle, count_threads: Callable[[], int] = threading.active_count) -> None:
        self._events = events
        self._count_threads = count_threads
        wait_until(events.idle, timeout=60, interval=0.005)
        self._threads = count_threads()

    def __call__(self) -> None:
        # Threads first: an execution publishes its last event before its thread ends.
        wait_until(
            lambda: self._count_threads() <= self._threads and self._events.idle(),
            timeout=60,
            interval=0.005,
        )


def _timed(action: Callable[[], Any], at_rest: AtRest) -> float:
    at_rest()
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(cloud: LocalCloud, api: Api, rounds: int = 100) -> dict[str, Any]:
    routes = cloud.stack.routes
    assert cloud.events is not None, "the local cloud is not deployed"
    start_event = with_request(
        load_event("start-execution"),
        path_parameters={"name": "ticket-triage"},
        query={},
        headers={"Idempotency-Key": None, "X-On-Conflict": None},
        body=json.dumps(TICKET),
    )

    def get_event(execution_id: str) -> dict[str, Any]:
        return with_request(load_event("get-execution"), path_parameters={"executionId": execution_id})

    def cancel_event(execution_id: str) -> dict[str, Any]:
        return with_request(load_event("cancel-execution"), path_parameters={"executionId": execution_id})

    list_event = with_request(load_event("list-executions"), query={"limit": str(LIST_LIMIT)})

    def handler_for(event: dict[str, Any]) -> Callable[[], Any]:
        spec = routes[ApiRoute(event["httpMethod"], event["resource"])]
        return lambda: invoke(spec, event)

    log = ParameterLog()
    finished = finished_execution(api)
    running = running_execution(api)
    at_rest = AtRest(cloud.events)
    results: dict[str, Any] = {}

    # Routes whose calls can be repeated as they are. A running execution's status is read either from
    # its fresh live view (most reads, when many watch) or by the reader that refreshes it.
    fixed = {
        "start": handler_for(start_event),
        "status_finished": handler_for(get_event(finished)),
        "list": handler_for(list_event),
    }
    for route, product in fixed.items():
        results[route] = _paired(product, log, at_rest, rounds, renamed=route == "start")
    # Fresh for the whole figure, then stale at once: each timed call takes one path, as its replay does.
    for route, fresh_seconds in (("status_running", "60"), ("status_running_stale", "0.001")):
        with _live_views_fresh_for(fresh_seconds):
            results[route] = _paired(handler_for(get_event(running)), log, at_rest, rounds)

    # Cancel needs a running execution per call, for the handler and the bare function alike.
    cancel_rounds = max(20, rounds // 4)
    template_id = running_execution(api)
    captured = log.during(handler_for(cancel_event(template_id)))
    baseline = bare(captured, template_id)
    product_times: list[float] = []
    bare_times: list[float] = []
    between_rounds = AtRest(cloud.events)
    for index in range(cancel_rounds):
        between_rounds()  # the last round's cancelled executions have ended
        # Recorded as RUNNING and sitting in its Wait, as the captured calls' conditions expect.
        targets = [running_execution(api) for _ in range(2)]
        at_rest = AtRest(cloud.events)
        pair: list[tuple[list[float], Callable[[], Any]]] = [
            (product_times, handler_for(cancel_event(targets[0]))),
            (bare_times, partial(baseline, targets[1])),
        ]
        if index % 2:
            pair.reverse()
        for times, action in pair:
            times.append(_timed(action, at_rest))
    results["cancel"] = _figures(product_times, bare_times, captured)
    api.cancel(running)
    results.update(_authorizer(cloud, log, AtRest(cloud.events), rounds))
    results["_method"] = (
        f"{rounds} interleaved pairs per route ({cancel_rounds} for cancel, each on a fresh running "
        "execution), in one process on moto, each call timed from rest (earlier calls' executions ended, "
        "their events delivered); the baseline replays the handler's own AWS calls with the shared boto3 "
        f"clients and nothing else; ratio of p50s; target <= {TARGET_RATIO}"
    )
    return results


def _authorizer(cloud: LocalCloud, log: ParameterLog, at_rest: AtRest, rounds: int) -> dict[str, Any]:
    """The authorizer on a miss of its cache (one GetItem) against its bare GetItem, and its p50 on a hit
    (no AWS call, so no baseline: what every request costs while its credential is cached)."""
    spec = cloud.stack.functions["AuthorizerFunction"]
    secret = services.manage_principals().bootstrap_admin("bench-authorizer").secret
    event = with_request(load_event("authorize-request"), headers={"X-API-Key": secret})

    def miss() -> Any:
        services.authorize.cache_clear()  # a container that has not seen this key yet
        return invoke(spec, event)

    figures = {"authorize_miss": _paired(miss, log, at_rest, rounds)}
    invoke(spec, event)
    hits = [_timed(lambda: invoke(spec, event), at_rest) for _ in range(rounds)]
    figures["_authorize_hit"] = {"p50_ms": ms(percentile(hits, 0.5)), "samples": len(hits)}
    return figures


def _paired(
    product: Callable[[], Any], log: ParameterLog, at_rest: AtRest, rounds: int, renamed: bool = False
) -> dict[str, Any]:
    """The handler against a replay of its captured calls, interleaved; `renamed`: each replay starts an
    execution of a new name, as each start does."""
    product()  # once untimed: a running execution's live view is then as every later call finds it
    captured = log.during(product)
    old_id = next(params["name"] for service, _, params in captured if service == "sfn") if renamed else None
    baseline = bare(captured, old_id)
    product_times: list[float] = []
    bare_times: list[float] = []
    for index in range(rounds + 5):
        fresh = str(uuid.uuid4()) if old_id else None
        pair: list[tuple[list[float], Callable[[], Any]]] = [
            (product_times, product),
            (bare_times, partial(baseline, fresh)),
        ]
        if index % 2:
            pair.reverse()
        for times, action in pair:
            elapsed = _timed(action, at_rest)
            if index >= 5:
                times.append(elapsed)
    return _figures(product_times, bare_times, captured)


@contextmanager
def _live_views_fresh_for(seconds: str) -> Iterator[None]:
    """Live views fresh for this long: a long time (every read shares one), or next to nothing (every
    read takes the refresh path: claim, history page, new view)."""
    previous = os.environ.get(LIVE_VIEW_SECONDS)
    os.environ[LIVE_VIEW_SECONDS] = seconds
    services.reset()  # the use cases hold their settings
    try:
        yield
    finally:
        if previous is None:
            del os.environ[LIVE_VIEW_SECONDS]
        else:
            os.environ[LIVE_VIEW_SECONDS] = previous
        services.reset()


def _figures(product: list[float], baseline: list[float], calls: list[Call]) -> dict[str, Any]:
    return {
        "p50_ms": ms(percentile(product, 0.5)),
        "p99_ms": ms(percentile(product, 0.99)),
        "bare_p50_ms": ms(percentile(baseline, 0.5)),
        "bare_p99_ms": ms(percentile(baseline, 0.99)),
        "ratio_vs_bare_boto3": ratio(percentile(product, 0.5), percentile(baseline, 0.5)),
        "samples": len(product),
        "calls": [f"{service}.{operation}" for service, operation, _ in calls],
    }
