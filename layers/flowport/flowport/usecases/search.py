"""Use case: search executions (GET /executions), one page at a time. Rules from flowport.core.search."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from flowport.core import search
from flowport.core.clock import Clock, utcnow
from flowport.core.identity import Action, Caller
from flowport.core.index import Index
from flowport.core.models import ExecutionPage, ExecutionStatus, ExecutionSummary
from flowport.core.ports import SearchIndex
from flowport.core.registry import Registry
from flowport.core.search import Cursor, Filters, Plan
from flowport.settings import Settings


@dataclass(frozen=True)
class SearchRequest:
    workflow: str | None = None
    status: ExecutionStatus | None = None
    correlation_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)  # input field -> value
    limit: int = search.DEFAULT_LIMIT
    next_token: str | None = None
    started_by: str | None = None


class SearchExecutions:
    def __init__(
        self, registry: Registry, index: SearchIndex, settings: Settings, clock: Clock = utcnow
    ) -> None:
        self._registry = registry
        self._index = index
        self._settings = settings
        self._clock = clock

    def search(self, request: SearchRequest, caller: Caller) -> ExecutionPage:
        """Newest first, only what `caller` may read. A page may hold fewer than `limit` executions while
        more follow (filters apply after the index is read): a `nextToken` says whether to go on."""
        caller.require(Action.READ)
        workflow = self._registry.find(request.workflow, caller) if request.workflow else None
        scope = search.scoped(caller, request.workflow, request.started_by)
        if scope is None:
            return ExecutionPage(items=[])
        started_by, workflows = scope
        filters = search.filters(
            workflow=workflow,
            status=request.status,
            correlation_id=request.correlation_id,
            since=request.since,
            until=request.until,
            inputs=request.inputs,
            started_by=started_by,
            workflows=workflows,
        )
        plan = search.plan(filters)
        key = self._settings.token_secret
        cursor = (
            search.decode_token(request.next_token, plan, filters, key) if request.next_token else Cursor()
        )
        now = self._clock()
        if plan.index is Index.BY_DAY:
            items, after = self._walk_days(plan, filters, cursor, request.limit, now)
        else:
            items, after = self._one_query(plan, filters, cursor, request.limit, now)
        return ExecutionPage(
            items=items, next_token=search.encode_token(plan, filters, after, key) if after else None
        )

    def _one_query(
        self, plan: Plan, filters: Filters, cursor: Cursor, limit: int, now: datetime
    ) -> tuple[list[ExecutionSummary], Cursor | None]:
        spec = search.query_spec(plan, filters, now, cursor)
        if plan.index is Index.BY_INPUT_FIELD:
            pointers = self._index.pointers(spec, limit)
            found = self._index.executions(pointers.execution_ids, now)
            items = [summary for summary in found if search.matches(summary, plan.residual)]
            after = pointers.after
        else:
            page = self._index.summaries(spec, limit)
            items, after = page.summaries, page.after
        return items, Cursor(after) if after else None

    def _walk_days(
        self, plan: Plan, filters: Filters, cursor: Cursor, limit: int, now: datetime
    ) -> tuple[list[ExecutionSummary], Cursor | None]:
        """Without filters: one day's partition after another, newest first, until the page is full.

        Why days rather than one constant partition key: neither raises the write ceiling, since all of
        today's records land in one partition key value either way (a GSI key value takes about 1000
        writes/s, and an ever-growing sort key cannot be split for heat); that is still several times what
        the API's throttling lets through. But a day's partition stops growing at midnight, so reads of
        the past do not share a hot partition with today's writes, and if starts ever outgrow one key,
        the day is where a shard suffix goes (`<day>#<n>`, n Queries merged per page).
        """
        retentions = (workflow.retention_hours for workflow in self._registry.values())
        newest, oldest = search.day_range(
            filters, now, search.record_horizon(self._settings.max_run_seconds, retentions)
        )
        day, after = cursor.day or newest, cursor.after
        items: list[ExecutionSummary] = []
        for _ in range(search.MAX_DAYS_PER_PAGE):
            if day < oldest:
                return items, None
            spec = search.query_spec(plan, filters, now, Cursor(after, day))
            page = self._index.summaries(spec, limit - len(items))
            items += page.summaries
            if page.after is not None:
                after = page.after
            else:
                day, after = search.previous_day(day), None
            if len(items) >= limit:
                break
        return items, None if day < oldest else Cursor(after, day)
