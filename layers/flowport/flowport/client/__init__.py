"""flowport's Python client: `FlowportClient`, over httpx, with no dependency on the server's packages."""

from flowport.client.client import DEFAULT_URL, ConflictStrategy, FlowportClient, new_key
from flowport.client.errors import FlowportApiError, WaitTimedOut
from flowport.client.models import (
    Event,
    Execution,
    FinalEvent,
    NodeEvent,
    NodeRun,
    Progress,
    ProgressEvent,
    StatusEvent,
    VariablesEvent,
)

__all__ = [
    "DEFAULT_URL",
    "ConflictStrategy",
    "Event",
    "Execution",
    "FinalEvent",
    "FlowportApiError",
    "FlowportClient",
    "NodeEvent",
    "NodeRun",
    "Progress",
    "ProgressEvent",
    "StatusEvent",
    "VariablesEvent",
    "WaitTimedOut",
    "new_key",
]
