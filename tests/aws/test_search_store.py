"""The search indexes against moto, on the table template.yaml declares: what they hold, what they project,
how they follow status changes, and the search use case over several days with a clock of its own."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from flowport.aws.queue import QUEUE_INDEX
from flowport.aws.search_store import SearchStore
from flowport.aws.store import ExecutionStore
from flowport.core import search
from flowport.core.errors import ServiceUnavailable
from flowport.core.index import LISTED_ATTRIBUTES, SORT_KEY, Index, created_key, search_keys
from flowport.core.models import ExecutionStatus
from flowport.core.registry import Registry, Workflow
from flowport.core.search import Cursor, Filters
from flowport.local.cloud import LocalCloud
from flowport.usecases.search import SearchExecutions, SearchRequest

from tests.aws.test_store import NOW, key, record
from tests.support import ADMIN, settings_for_tests

WORKFLOW = Workflow.model_validate(
    {"name": "ticket-triage", "versions": [2], "searchableInputFields": ["customerId", "vip"]}
)
DAY = timedelta(days=1)


@pytest.fixture
def table(cloud: LocalCloud) -> str:
    (spec,) = cloud.stack.tables.values()
    return spec.name


@pytest.fixture
def client(table: str) -> Any:
    """moto's DynamoDB client, refusing any Scan: search must be served by indexes."""
    dynamodb = boto3.client("dynamodb")

    def refuse(**_: Any) -> None:
        raise AssertionError("a Scan was made")

    dynamodb.meta.events.register("before-call.dynamodb.Scan", refuse)
    return dynamodb


@pytest.fixture
def store(client: Any, table: str) -> ExecutionStore:
    return ExecutionStore(client, table)


@pytest.fixture
def indexes(client: Any, table: str) -> SearchStore:
    return SearchStore(client, table)


def create(store: ExecutionStore, execution_id: str, created_at: datetime = NOW, **changes: Any) -> None:
    new = record(execution_id, created_at=created_at, idempotency_key_hash=None, **changes)
    store.create(new, None, now=created_at.timestamp(), search_keys=search_keys(WORKFLOW, new.input))


def listed(indexes: SearchStore, filters: Filters, now: datetime = NOW) -> list[str]:
    page = indexes.summaries(search.query_spec(search.plan(filters), filters, now, Cursor()), 100)
    return [summary.execution_id for summary in page.summaries]


def raw_index(client: Any, table: str, index: Index, partition: str) -> list[dict[str, Any]]:
    response = client.query(
        TableName=table,
        IndexName=index.value,
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames={"#pk": index.partition_key},
        ExpressionAttributeValues={":pk": {"S": partition}},
    )
    return list(response["Items"])


def test_local_mode_creates_the_template_indexes(client: Any, table: str):
    described = client.describe_table(TableName=table)["Table"]["GlobalSecondaryIndexes"]
    assert {index["IndexName"] for index in described} == {index.value for index in Index} | {QUEUE_INDEX}
    for index in described:
        if index["IndexName"] == QUEUE_INDEX:
            continue  # not the search's (tests/aws/test_queue.py)
        assert [key["AttributeName"] for key in index["KeySchema"]] == [
            Index(index["IndexName"]).partition_key,
            SORT_KEY,
        ]


def test_record_indexes_project_a_summary_only_and_hold_records_only(
    store: ExecutionStore, client: Any, table: str
):
    keyed = record("e1", input={"customerId": "c-1"}, correlation_id="corr")
    store.create(keyed, key("e1"), now=NOW.timestamp(), search_keys=search_keys(WORKFLOW, keyed.input))
    for index, partition in [
        (Index.BY_WORKFLOW, "ticket-triage"),
        (Index.BY_STATUS, "QUEUED"),
        (Index.BY_CORRELATION_ID, "corr"),
        (Index.BY_STARTED_BY, ADMIN.principal_id),
        (Index.BY_DAY, "2026-11-23"),
    ]:
        (item,) = raw_index(client, table, index, partition)  # not the key's item, not the pointer
        assert set(item) == {"pk", "sk", SORT_KEY, index.partition_key, *LISTED_ATTRIBUTES}
        assert item["sk"] == {"S": "EXEC"}
    (pointer,) = raw_index(client, table, Index.BY_INPUT_FIELD, "ticket-triage#customerId=c-1")
    assert pointer == {
        "pk": {"S": "EXEC#e1"},
        "sk": {"S": "FIELD#customerId"},
        "searchKey": {"S": "ticket-triage#customerId=c-1"},
        "createdKey": {"S": created_key(NOW, "e1")},
    }


def test_the_status_index_follows_each_transition(store: ExecutionStore, indexes: SearchStore):
    create(store, "e1")
    by_status = {status: Filters(status=status) for status in ExecutionStatus}
    assert listed(indexes, by_status[ExecutionStatus.QUEUED]) == ["e1"]
    store.mark_running(record("e1", status=ExecutionStatus.RUNNING, started_at=NOW))
    assert listed(indexes, by_status[ExecutionStatus.QUEUED]) == []
    assert listed(indexes, by_status[ExecutionStatus.RUNNING]) == ["e1"]
    store.finish(record("e1", status=ExecutionStatus.COMPLETED, completed_at=NOW, output={"ok": 1}))
    assert listed(indexes, by_status[ExecutionStatus.RUNNING]) == []
    assert listed(indexes, by_status[ExecutionStatus.COMPLETED]) == ["e1"]
    by_workflow = Filters(workflow="ticket-triage")
    summaries = indexes.summaries(
        search.query_spec(search.plan(by_workflow), by_workflow, NOW, Cursor()), 10
    ).summaries
    assert [(summary.execution_id, summary.status) for summary in summaries] == [
        ("e1", ExecutionStatus.COMPLETED)
    ]


def test_expired_records_are_not_listed_nor_read(store: ExecutionStore, indexes: SearchStore):
    create(store, "e1", input={"customerId": "c"}, expires_at=int(NOW.timestamp()) + 10)
    later = NOW + timedelta(seconds=11)
    assert listed(indexes, Filters(workflow="ticket-triage")) == ["e1"]
    assert listed(indexes, Filters(workflow="ticket-triage"), now=later) == []
    assert [summary.execution_id for summary in indexes.executions(["e1"], NOW)] == ["e1"]
    assert indexes.executions(["e1"], later) == []


class Unprocessing:
    """A DynamoDB client whose BatchGetItem leaves the first key unprocessed, `times` times."""

    def __init__(self, client: Any, times: int) -> None:
        self._client = client
        self.times = times
        self.calls = 0

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        if not self.times:
            return dict(self._client.batch_get_item(RequestItems=RequestItems))
        self.times -= 1
        ((table, request),) = RequestItems.items()
        first, *rest = request["Keys"]
        response = (
            self._client.batch_get_item(RequestItems={table: {**request, "Keys": rest}}) if rest else {}
        )
        return {**response, "UnprocessedKeys": {table: {**request, "Keys": [first]}}}


def test_unprocessed_keys_are_asked_for_again_and_the_order_kept(
    store: ExecutionStore, client: Any, table: str
):
    for number in range(3):
        create(store, f"e{number}", created_at=NOW + timedelta(seconds=number))
    flaky = Unprocessing(client, times=2)
    found = SearchStore(flaky, table).executions(["e2", "missing", "e0", "e1"], NOW)  # type: ignore[arg-type]
    assert [summary.execution_id for summary in found] == ["e2", "e0", "e1"]
    assert flaky.calls == 3


def test_keys_still_unprocessed_after_the_retries_are_a_503(store: ExecutionStore, client: Any, table: str):
    create(store, "e1")
    with pytest.raises(ServiceUnavailable):
        SearchStore(Unprocessing(client, times=99), table).executions(["e1"], NOW)  # type: ignore[arg-type]


# -- the use case, with a clock of its own ------------------------------------------------------------------


def service(
    indexes: SearchStore, now: datetime, max_run_seconds: int = 3 * 24 * 3600, retention_hours: int = 24
) -> SearchExecutions:
    workflow = WORKFLOW.model_copy(update={"retention_hours": retention_hours})
    return SearchExecutions(
        Registry({workflow.name: workflow}),
        indexes,
        settings_for_tests(max_run_seconds=max_run_seconds),
        clock=lambda: now,
    )


def all_pages(search_service: SearchExecutions, **request: Any) -> list[list[str]]:
    pages, token = [], None
    while True:
        page = search_service.search(SearchRequest(next_token=token, **request), ADMIN)
        pages.append([item.execution_id for item in page.items])
        token = page.next_token
        if token is None:
            return pages


def test_without_filters_days_are_walked_newest_first_across_pages(
    store: ExecutionStore, indexes: SearchStore
):
    # Today: t2, t1; yesterday: nothing; two days ago: d1, d0; three days ago: o. Five days ago is past
    # the horizon (3 days of running + 1 of retention), so no Query reads that far back.
    created = {
        "t2": NOW - timedelta(hours=1),
        "t1": NOW - timedelta(hours=2),
        "d1": NOW - 2 * DAY,
        "d0": NOW - 2 * DAY - timedelta(hours=1),
        "o": NOW - 3 * DAY,
        "too-old": NOW - 5 * DAY,
    }
    for execution_id, created_at in created.items():
        create(store, execution_id, created_at=created_at, expires_at=int(NOW.timestamp()) + 3600)
    searching = service(indexes, NOW)
    assert all_pages(searching, limit=2) == [["t2", "t1"], ["d1", "d0"], ["o"]]
    assert all_pages(searching, limit=3) == [["t2", "t1", "d1"], ["d0", "o"]]
    assert all_pages(searching, limit=100) == [["t2", "t1", "d1", "d0", "o"]]
    window = {"since": NOW - 2 * DAY - timedelta(minutes=30), "until": NOW - timedelta(hours=2)}
    # A Query that fills its Limit hands on where it stopped, even when nothing follows: an empty last page.
    assert all_pages(searching, limit=1, **window) == [["t1"], ["d1"], []]


def test_a_page_stops_walking_after_a_bounded_number_of_days(store: ExecutionStore, indexes: SearchStore):
    far = NOW - (search.MAX_DAYS_PER_PAGE + 5) * DAY
    create(store, "far", created_at=far, expires_at=int(NOW.timestamp()) + 3600)
    searching = service(indexes, NOW, max_run_seconds=90 * 24 * 3600)
    assert all_pages(searching) == [[], ["far"], []]


def test_an_input_field_finds_strings_numbers_and_booleans_by_their_text(
    store: ExecutionStore, indexes: SearchStore
):
    inputs = {
        "s": {"customerId": "42"},
        "n": {"customerId": 42},
        "f": {"customerId": 42.0},
        "b": {"vip": True},
    }
    for number, (execution_id, workflow_input) in enumerate(inputs.items()):
        create(store, execution_id, created_at=NOW + timedelta(seconds=number), input=workflow_input)
    searching = service(indexes, NOW + timedelta(minutes=1))

    def found(field: str, value: str, **request: Any) -> list[str]:
        page = searching.search(
            SearchRequest(workflow="ticket-triage", inputs={field: value}, **request), ADMIN
        )
        return [item.execution_id for item in page.items]

    assert found("customerId", "42") == ["f", "n", "s"]
    assert found("customerId", "42.0") == []
    assert found("vip", "true") == ["b"]
    assert found("customerId", "42", limit=2) == ["f", "n"]
    assert found("customerId", "42", status=ExecutionStatus.RUNNING) == []


def test_a_pointer_whose_record_is_gone_is_skipped(store: ExecutionStore, client: Any, table: str):
    create(store, "kept", input={"customerId": "c"})
    create(store, "gone", created_at=NOW + timedelta(seconds=1), input={"customerId": "c"})
    client.delete_item(TableName=table, Key={"pk": {"S": "EXEC#gone"}, "sk": {"S": "EXEC"}})  # as TTL does
    page = service(SearchStore(client, table), NOW).search(
        SearchRequest(workflow="ticket-triage", inputs={"customerId": "c"}), ADMIN
    )
    assert [item.execution_id for item in page.items] == ["kept"]
