"""The service each route uses, built once per container from the settings."""

from __future__ import annotations

from functools import cache

from flowport.aws import clients
from flowport.aws.gateway import StepFunctionsGateway
from flowport.aws.search_store import SearchStore
from flowport.aws.store import ExecutionStore
from flowport.execution_search import ExecutionSearch
from flowport.executions import ExecutionService
from flowport.registry import load_registry
from flowport.settings import get_settings


@cache
def execution_service() -> ExecutionService:
    settings = get_settings()
    return ExecutionService(
        registry=load_registry(settings.workflows_path),
        store=ExecutionStore(clients.dynamodb(), settings.table_name),
        gateway=StepFunctionsGateway(clients.stepfunctions()),
        settings=settings,
    )


@cache
def execution_search() -> ExecutionSearch:
    settings = get_settings()
    return ExecutionSearch(
        registry=load_registry(settings.workflows_path),
        store=SearchStore(clients.dynamodb(), settings.table_name),
        settings=settings,
    )


def reset() -> None:
    """Forget every cached service, client and setting (tests and the local server change them)."""
    execution_service.cache_clear()
    execution_search.cache_clear()
    load_registry.cache_clear()
    get_settings.cache_clear()
    clients.dynamodb.cache_clear()
    clients.stepfunctions.cache_clear()
