"""The composition root: each use case built once per container, from the settings and the AWS adapters.

Handlers and routes ask here for the use case they run. Tests and local mode reach the adapters through
the same functions (a test may patch a public method of the very adapter the handlers use), and
`reset()` forgets everything when they change the environment.
"""

from __future__ import annotations

from functools import cache

from flowport.aws import clients
from flowport.aws.gateway import StepFunctionsGateway
from flowport.aws.live_views import DynamoLiveViews
from flowport.aws.search_store import SearchStore
from flowport.aws.store import ExecutionStore
from flowport.core.registry import Registry, load_registry
from flowport.settings import get_settings
from flowport.usecases.cancel import CancelExecution
from flowport.usecases.live import LiveExecutions
from flowport.usecases.read import ReadExecution
from flowport.usecases.search import SearchExecutions
from flowport.usecases.start import StartExecution
from flowport.usecases.sync import ApplyStatusChange

# Adapters


def registry() -> Registry:
    return load_registry(get_settings().workflows_path)


@cache
def execution_store() -> ExecutionStore:
    return ExecutionStore(clients.dynamodb(), get_settings().table_name)


@cache
def live_views() -> DynamoLiveViews:
    return DynamoLiveViews(clients.dynamodb(), get_settings().table_name)


@cache
def workflow_engine() -> StepFunctionsGateway:
    return StepFunctionsGateway(clients.stepfunctions())


@cache
def search_index() -> SearchStore:
    return SearchStore(clients.dynamodb(), get_settings().table_name)


# Use cases


@cache
def live_executions() -> LiveExecutions:
    return LiveExecutions(registry(), execution_store(), live_views(), workflow_engine(), get_settings())


@cache
def start_execution() -> StartExecution:
    return StartExecution(registry(), execution_store(), workflow_engine(), get_settings())


@cache
def read_execution() -> ReadExecution:
    return ReadExecution(live_executions(), workflow_engine())


@cache
def cancel_execution() -> CancelExecution:
    return CancelExecution(execution_store(), workflow_engine(), live_executions())


@cache
def apply_status_change() -> ApplyStatusChange:
    return ApplyStatusChange(execution_store(), workflow_engine(), live_executions())


@cache
def search_executions() -> SearchExecutions:
    return SearchExecutions(registry(), search_index(), get_settings())


_CACHED = (
    execution_store,
    live_views,
    workflow_engine,
    search_index,
    live_executions,
    start_execution,
    read_execution,
    cancel_execution,
    apply_status_change,
    search_executions,
    load_registry,
    get_settings,
    clients.dynamodb,
    clients.stepfunctions,
)


def reset() -> None:
    """Forget every cached use case, adapter, client and setting (tests and the local server change them)."""
    for cached in _CACHED:
        cached.cache_clear()
