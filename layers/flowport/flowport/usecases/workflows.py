"""Use case: a workflow's settings with its load now: how many of its executions hold a slot, and how many
wait in its queue."""

from __future__ import annotations

from dataclasses import dataclass

from flowport.core import admission
from flowport.core.graph import graph_of
from flowport.core.identity import Caller
from flowport.core.models import WorkflowGraph
from flowport.core.ports import SlotStore, WorkflowQueue
from flowport.core.registry import Registry, Workflow
from flowport.settings import Settings


@dataclass(frozen=True)
class Load:
    workflow: Workflow
    limit: int | None
    running: int
    queued: int


class ReadWorkflows:
    def __init__(
        self, registry: Registry, slots: SlotStore, queue: WorkflowQueue, settings: Settings
    ) -> None:
        self._registry = registry
        self._slots = slots
        self._queue = queue
        self._settings = settings

    def limit(self, workflow: Workflow) -> int | None:
        return admission.limit_of(workflow, self._settings.default_max_concurrency)

    def load(self, name: str, caller: Caller) -> Load:
        """Two reads: the slots (consistent) and the queue's length (as the queue index has it)."""
        workflow = self._registry.find(name, caller)
        return Load(
            workflow,
            self.limit(workflow),
            self._slots.read(workflow.name).running,
            self._queue.length(workflow.name),
        )

    def graph(self, name: str, version: int | None, caller: Caller) -> WorkflowGraph:
        """A version's definition as a graph (the latest without one); no AWS call."""
        workflow = self._registry.find(name, caller)
        resolved = workflow.resolve_version(version)
        return graph_of(workflow.name, resolved, self._registry.definition(workflow, resolved))
