"""The composition root: each use case built once per container, from the settings and the AWS adapters.

Handlers and routes ask here for the use case they run. Tests and local mode reach the adapters through
the same functions (a test may patch a public method of the very adapter the handlers use), and
`reset()` forgets everything when they change the environment.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

from flowport.aws import clients
from flowport.aws.gateway import StepFunctionsGateway
from flowport.aws.store import ExecutionStore
from flowport.core.registry import Registry, load_registry
from flowport.settings import SettingsError, get_settings

# Every function imports this module but runs one use case or two: each use case, and each adapter that
# not every function uses, is imported where it is built, so that a function loads only its own. Its init
# imports those (load_use_cases).
if TYPE_CHECKING:
    from flowport.aws.callbacks import HttpCallbacks
    from flowport.aws.deliveries import DeliveryStore, SqsDeliveryQueue
    from flowport.aws.live_views import DynamoLiveViews
    from flowport.aws.principals import PrincipalStore
    from flowport.aws.queue import QueueIndex
    from flowport.aws.retry_store import RetryStore
    from flowport.aws.search_store import SearchStore
    from flowport.aws.slots import SlotStore
    from flowport.usecases.admin import ManagePrincipals
    from flowport.usecases.admission import Admission
    from flowport.usecases.authorize import Authorize
    from flowport.usecases.cancel import CancelExecution
    from flowport.usecases.live import LiveExecutions
    from flowport.usecases.read import ReadExecution
    from flowport.usecases.reconcile import Reconcile
    from flowport.usecases.retry import RerunExecution, RetryExecution
    from flowport.usecases.search import SearchExecutions
    from flowport.usecases.start import StartExecution
    from flowport.usecases.sync import ApplyStatusChange
    from flowport.usecases.webhooks import (
        CallbackCheck,
        DeliverCallback,
        EnqueueDelivery,
        ListDeliveries,
        RotateWebhookSecret,
    )
    from flowport.usecases.workflows import ReadWorkflows


# What building each use case imports (tests/test_init_imports.py checks that nothing is missing).
_ADMISSION = ("flowport.usecases.admission", "flowport.aws.slots", "flowport.aws.queue")
_LIVE = ("flowport.usecases.live", "flowport.aws.live_views", "flowport.aws.queue")
_WEBHOOKS = ("flowport.usecases.webhooks", "flowport.core.webhooks", "flowport.aws.deliveries")
_USE_CASE_MODULES = {
    "start": ("flowport.usecases.start", *_ADMISSION, *_WEBHOOKS, "flowport.aws.callbacks"),
    "read": ("flowport.usecases.read", *_LIVE),
    "cancel": ("flowport.usecases.cancel",),
    "sync": ("flowport.usecases.sync", *_LIVE, *_ADMISSION, "flowport.aws.retry_store", *_WEBHOOKS),
    "retry": ("flowport.usecases.retry", "flowport.aws.retry_store", *_ADMISSION),
    "reconcile": ("flowport.usecases.reconcile", *_LIVE, *_ADMISSION, "flowport.aws.retry_store"),
    "workflows": ("flowport.usecases.workflows", "flowport.aws.slots", "flowport.aws.queue"),
    "search": ("flowport.usecases.search", "flowport.aws.search_store"),
    "authorize": ("flowport.usecases.authorize", "flowport.aws.principals"),
    "admin": ("flowport.usecases.admin", "flowport.aws.principals", "flowport.core.principals", *_WEBHOOKS),
    "deliver": (*_WEBHOOKS, "flowport.aws.callbacks"),
    "deliveries": _WEBHOOKS,
}


def load_use_cases(*names: str) -> None:
    """Import what the named use cases need, at a function's init: they are built lazily, at the first
    request, but their import belongs to the function's cold start, not to that request."""
    for name in names:
        for module in _USE_CASE_MODULES[name]:
            import_module(module)


# Adapters


def registry() -> Registry:
    return load_registry(get_settings().workflows_path)


@cache
def execution_store() -> ExecutionStore:
    return ExecutionStore(clients.dynamodb(), get_settings().table_name)


@cache
def live_views() -> DynamoLiveViews:
    from flowport.aws.live_views import DynamoLiveViews

    return DynamoLiveViews(clients.dynamodb(), get_settings().table_name)


@cache
def workflow_engine() -> StepFunctionsGateway:
    return StepFunctionsGateway(clients.stepfunctions())


@cache
def slot_store() -> SlotStore:
    from flowport.aws.slots import SlotStore

    return SlotStore(clients.dynamodb(), get_settings().table_name)


@cache
def queue_index() -> QueueIndex:
    from flowport.aws.queue import QueueIndex

    return QueueIndex(clients.dynamodb(), get_settings().table_name)


@cache
def retry_store() -> RetryStore:
    from flowport.aws.retry_store import RetryStore

    return RetryStore(clients.dynamodb(), get_settings().table_name)


@cache
def search_index() -> SearchStore:
    from flowport.aws.search_store import SearchStore

    return SearchStore(clients.dynamodb(), get_settings().table_name)


@cache
def principal_store() -> PrincipalStore:
    from flowport.aws.principals import PrincipalStore

    return PrincipalStore(clients.dynamodb(), get_settings().table_name)


@cache
def delivery_store() -> DeliveryStore:
    from flowport.aws.deliveries import DeliveryStore

    return DeliveryStore(clients.dynamodb(), get_settings().table_name)


@cache
def delivery_queue() -> SqsDeliveryQueue | None:
    """None where the stack has no delivery queue (its settings name none)."""
    from flowport.aws.deliveries import SqsDeliveryQueue

    settings = get_settings()
    if settings.delivery_queue_url is None:
        return None
    # The client at the first send: most starts queue nothing, and need no SQS client made.
    return SqsDeliveryQueue(
        clients.sqs, settings.delivery_queue_url, settings.delivery_dead_letter_queue_url or ""
    )


@cache
def callback_transport() -> HttpCallbacks:
    from flowport.aws.callbacks import HttpCallbacks

    return HttpCallbacks()


# Use cases


@cache
def live_executions() -> LiveExecutions:
    from flowport.usecases.live import LiveExecutions

    return LiveExecutions(
        registry(), execution_store(), live_views(), workflow_engine(), queue_index(), get_settings()
    )


@cache
def admission() -> Admission:
    from flowport.usecases.admission import Admission

    return Admission(
        registry(), execution_store(), slot_store(), queue_index(), workflow_engine(), get_settings()
    )


@cache
def start_execution() -> StartExecution:
    from flowport.usecases.start import StartExecution

    return StartExecution(
        registry(),
        execution_store(),
        workflow_engine(),
        admission(),
        get_settings(),
        callbacks=callback_check(),
        deliveries=enqueue_delivery(),
    )


@cache
def callback_check() -> CallbackCheck:
    from flowport.usecases.webhooks import CallbackCheck

    return CallbackCheck(delivery_store(), callback_transport(), get_settings())


@cache
def read_execution() -> ReadExecution:
    from flowport.usecases.read import ReadExecution

    return ReadExecution(live_executions(), workflow_engine(), get_settings().token_secret)


@cache
def cancel_execution() -> CancelExecution:
    from flowport.usecases.cancel import CancelExecution

    return CancelExecution(registry(), execution_store(), workflow_engine())


@cache
def apply_status_change() -> ApplyStatusChange:
    from flowport.usecases.sync import ApplyStatusChange

    return ApplyStatusChange(
        execution_store(),
        workflow_engine(),
        live_executions(),
        admission(),
        retries=retry_store(),
        deliveries=enqueue_delivery(),
    )


@cache
def enqueue_delivery() -> EnqueueDelivery:
    from flowport.usecases.webhooks import EnqueueDelivery

    return EnqueueDelivery(delivery_queue())


@cache
def deliver_callback() -> DeliverCallback:
    from flowport.usecases.webhooks import DeliverCallback

    queue = delivery_queue()
    if queue is None:
        raise SettingsError("the deliver function needs FLOWPORT_DELIVERY_QUEUE_URL")
    return DeliverCallback(delivery_store(), queue, callback_transport(), get_settings())


@cache
def list_deliveries() -> ListDeliveries:
    from flowport.usecases.webhooks import ListDeliveries

    return ListDeliveries(execution_store(), delivery_store())


@cache
def rotate_webhook_secret() -> RotateWebhookSecret:
    from flowport.usecases.webhooks import RotateWebhookSecret

    return RotateWebhookSecret(delivery_store())


@cache
def reconcile() -> Reconcile:
    from flowport.usecases.reconcile import Reconcile

    return Reconcile(
        registry(),
        execution_store(),
        slot_store(),
        queue_index(),
        workflow_engine(),
        admission(),
        apply_status_change(),
        get_settings(),
    )


@cache
def retry_execution() -> RetryExecution:
    from flowport.usecases.retry import RetryExecution

    return RetryExecution(
        registry(), execution_store(), retry_store(), workflow_engine(), admission(), get_settings()
    )


@cache
def rerun_execution() -> RerunExecution:
    from flowport.usecases.retry import RerunExecution

    return RerunExecution(execution_store(), start_execution())


@cache
def search_executions() -> SearchExecutions:
    from flowport.usecases.search import SearchExecutions

    return SearchExecutions(registry(), search_index(), get_settings())


@cache
def read_workflows() -> ReadWorkflows:
    from flowport.usecases.workflows import ReadWorkflows

    return ReadWorkflows(registry(), slot_store(), queue_index(), get_settings())


@cache
def authorize() -> Authorize:
    from flowport.usecases.authorize import Authorize

    return Authorize(principal_store(), registry(), get_settings().auth_cache_seconds)


@cache
def manage_principals() -> ManagePrincipals:
    from flowport.usecases.admin import ManagePrincipals

    return ManagePrincipals(principal_store(), registry())


_CACHED = (
    execution_store,
    live_views,
    workflow_engine,
    search_index,
    slot_store,
    queue_index,
    admission,
    reconcile,
    read_workflows,
    retry_store,
    live_executions,
    start_execution,
    read_execution,
    cancel_execution,
    apply_status_change,
    retry_execution,
    rerun_execution,
    search_executions,
    principal_store,
    authorize,
    manage_principals,
    delivery_store,
    delivery_queue,
    callback_transport,
    callback_check,
    enqueue_delivery,
    deliver_callback,
    list_deliveries,
    rotate_webhook_secret,
    load_registry,
    get_settings,
    clients.dynamodb,
    clients.stepfunctions,
    clients.sqs,
)


def reset() -> None:
    """Forget every cached use case, adapter, client and setting (tests and the local server change them)."""
    for cached in _CACHED:
        cached.cache_clear()
