"""Search rules: filters, the index chosen, its Query as data, page tokens and search keys. No AWS."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from flowport.core import index, search, tokens
from flowport.core.errors import FieldNotSearchable, InvalidNextToken, InvalidParameter
from flowport.core.index import Index
from flowport.core.models import ExecutionLinks, ExecutionStatus, ExecutionSummary
from flowport.core.registry import Workflow
from flowport.core.search import Cursor, Filters, InputMatch

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
WORKFLOW = Workflow.model_validate(
    {"name": "orders", "versions": [1], "searchableInputFields": ["customerId"]}
)


def test_created_text_is_fixed_width_utc_so_text_order_is_time_order():
    moments = [
        datetime(999, 1, 1, tzinfo=UTC),
        datetime(2026, 11, 23, 12, 0, 0, 5, tzinfo=UTC),
        datetime(2026, 11, 23, 13, 30, tzinfo=timezone(timedelta(hours=1))),  # 12:30 UTC
        datetime(2026, 11, 23, 12, 45, tzinfo=UTC),
    ]
    texts = [index.created_text(moment) for moment in moments]
    assert texts[1] == "2026-11-23T12:00:00.000005Z"
    assert texts[2] == "2026-11-23T12:30:00.000000Z"
    assert {len(text) for text in texts} == {27}
    assert sorted(texts) == texts
    assert index.created_key(NOW, "e1") == "2026-11-23T12:00:00.000000Z#e1"
    assert (
        index.created_day(datetime(2026, 11, 24, 0, 30, tzinfo=timezone(timedelta(hours=2)))) == "2026-11-23"
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("42", "42"),
        (42, "42"),
        (42.0, "42"),
        (-0.0, "0"),
        (1e16, "10000000000000000"),
        (0.5, "0.5"),
        (True, "true"),
        (False, "false"),
        ("true", "true"),
        ("", ""),
        ("ü 🎉", "ü 🎉"),
        (None, None),
        ([1], None),
        ({"a": 1}, None),
        (float("inf"), None),
        ("x" * index.MAX_SEARCH_VALUE_BYTES, "x" * index.MAX_SEARCH_VALUE_BYTES),
        ("é" * (index.MAX_SEARCH_VALUE_BYTES // 2 + 1), None),
    ],
)
def test_an_input_value_is_found_by_its_text_whatever_its_json_type(value: Any, text: str | None):
    assert index.search_text(value) == text


def test_only_declared_fields_with_searchable_values_get_search_keys():
    workflow = Workflow.model_validate(
        {"name": "w", "versions": [1], "searchableInputFields": ["a", "b", "c"]}
    )
    keys = index.search_keys(workflow, {"a": 42, "b": {"nested": 1}, "other": "x"})
    assert keys == {"a": "w#a=42"}
    assert index.search_keys(WORKFLOW, {}) == {}


def test_input_parameters_are_picked_out():
    assert search.input_values({"workflow": "w", "input.customerId": "42"}) == {"customerId": "42"}


def test_since_and_until_are_normalised_to_utc_and_ordered():
    plus_one = timezone(timedelta(hours=1))
    filters = search.filters(since=datetime(2026, 11, 23, 13, 0, tzinfo=plus_one), until=NOW)
    assert (filters.since, filters.until) == ("2026-11-23T12:00:00.000000Z",) * 2
    with pytest.raises(InvalidParameter) as refused:
        search.filters(since=NOW, until=NOW - timedelta(microseconds=1))
    assert refused.value.extensions["errors"][0].field == "/query/until"
    with pytest.raises(InvalidParameter):
        search.filters(since=datetime(1, 1, 1, tzinfo=plus_one))


def test_an_input_field_search_needs_the_workflow_and_a_declared_field_and_one_at_a_time():
    assert search.filters(workflow=WORKFLOW, inputs={"customerId": "42"}).input_match == InputMatch(
        "customerId", "42"
    )
    with pytest.raises(InvalidParameter, match="needs the workflow"):
        search.filters(inputs={"customerId": "42"})
    with pytest.raises(FieldNotSearchable, match="customerId"):
        search.filters(workflow=WORKFLOW, inputs={"subject": "x"})
    with pytest.raises(InvalidParameter, match="one input field"):
        search.filters(workflow=WORKFLOW, inputs={"customerId": "42", "other": "1"})
    with pytest.raises(InvalidParameter, match="never indexed"):
        search.filters(workflow=WORKFLOW, inputs={"customerId": "x" * (index.MAX_SEARCH_VALUE_BYTES + 1)})


RUNNING, COMPLETED = ExecutionStatus.RUNNING, ExecutionStatus.COMPLETED


@pytest.mark.parametrize(
    ("filters", "index", "partition", "residual"),
    [
        (Filters(), Index.BY_DAY, None, {}),
        (Filters(status=RUNNING), Index.BY_STATUS, "RUNNING", {}),
        (Filters(workflow="orders"), Index.BY_WORKFLOW, "orders", {}),
        (Filters(workflow="orders", status=COMPLETED), Index.BY_WORKFLOW, "orders", {"status": "COMPLETED"}),
        (Filters(workflow="orders", status=RUNNING), Index.BY_STATUS, "RUNNING", {"workflow": "orders"}),
        (
            Filters(workflow="orders", status=RUNNING, correlation_id="c"),
            Index.BY_CORRELATION_ID,
            "c",
            {"workflow": "orders", "status": "RUNNING"},
        ),
        (
            Filters(workflow="orders", correlation_id="c", input_match=InputMatch("customerId", "42")),
            Index.BY_INPUT_FIELD,
            "orders#customerId=42",
            {"correlationId": "c"},
        ),
        (Filters(since="2026-11-23T12:00:00.000000Z"), Index.BY_DAY, None, {}),
    ],
)
def test_the_most_selective_index_serves_and_the_rest_is_filtered(
    filters: Filters, index: Index, partition: str | None, residual: dict[str, str]
):
    assert search.plan(filters) == search.Plan(index, partition, residual)


@pytest.mark.parametrize(
    ("since", "until", "condition", "bounds"),
    [
        (None, None, "#pk = :pk", {}),
        ("A", None, "#pk = :pk AND #sk >= :since", {":since": "A"}),
        (None, "B", "#pk = :pk AND #sk <= :until", {":until": "B$"}),
        ("A", "B", "#pk = :pk AND #sk BETWEEN :since AND :until", {":since": "A", ":until": "B$"}),
    ],
)
def test_since_and_until_bound_the_sort_key(since, until, condition, bounds):
    filters = Filters(workflow="orders", since=since, until=until)
    spec = search.query_spec(search.plan(filters), filters, NOW, Cursor())
    assert spec.key_condition == condition
    assert {name: value["S"] for name, value in spec.values.items() if name in (":since", ":until")} == bounds
    assert ("#sk" in spec.names) == bool(bounds)  # DynamoDB refuses names an expression does not use


def test_an_instant_bound_includes_every_execution_created_at_that_instant():
    instant = index.created_text(NOW)
    at, after = (
        index.created_key(NOW, "zz-last-id"),
        index.created_key(NOW + timedelta(microseconds=1), "0"),
    )
    upper = search.query_spec(
        search.plan(Filters(until=instant)), Filters(until=instant), NOW, Cursor(day="2026-11-23")
    ).values[":until"]["S"]
    assert instant <= at <= upper < after


def test_record_queries_drop_expired_records_and_filter_the_rest():
    filters = Filters(workflow="orders", status=RUNNING)
    spec = search.query_spec(search.plan(filters), filters, NOW, Cursor())
    assert spec.index is Index.BY_STATUS
    assert spec.start_key is None
    assert spec.filter == "#expiresAt >= :now AND #f0 = :f0"
    assert spec.names == {"#pk": "status", "#expiresAt": "expiresAt", "#f0": "workflow"}
    assert spec.values == {
        ":pk": {"S": "RUNNING"},
        ":now": {"N": str(int(NOW.timestamp()))},
        ":f0": {"S": "orders"},
    }
    day = search.query_spec(search.plan(Filters()), Filters(), NOW, Cursor(day="2026-11-22"))
    assert (day.index, day.values[":pk"], day.names["#pk"]) == (
        Index.BY_DAY,
        {"S": "2026-11-22"},
        "createdDay",
    )


def test_pointer_queries_have_no_filter_their_records_are_matched_once_read():
    filters = Filters(workflow="orders", status=RUNNING, input_match=InputMatch("customerId", "42"))
    plan = search.plan(filters)
    spec = search.query_spec(plan, filters, NOW, Cursor())
    assert (spec.index, spec.filter, spec.values[":pk"]) == (
        Index.BY_INPUT_FIELD,
        None,
        {"S": "orders#customerId=42"},
    )
    summary = ExecutionSummary(
        execution_id="e1",
        workflow="orders",
        version=1,
        status=RUNNING,
        priority=0,
        created_at=NOW,
        links=ExecutionLinks(self_="/executions/e1", cancel="/executions/e1"),
    )
    assert search.matches(summary, plan.residual)
    assert not search.matches(summary.model_copy(update={"status": COMPLETED}), plan.residual)
    assert not search.matches(summary, {"correlationId": "c"})


def test_days_run_from_until_or_today_back_to_since_or_the_oldest_possible_record():
    horizon = search.record_horizon(7 * 24 * 3600, [24, 168])
    assert horizon == timedelta(days=14)
    assert search.record_horizon(3600, []) == timedelta(hours=25)
    assert search.day_range(Filters(), NOW, horizon) == ("2026-11-23", "2026-11-09")
    window = Filters(since="2026-11-20T05:00:00.000000Z", until="2026-11-21T05:00:00.000000Z")
    assert search.day_range(window, NOW, horizon) == ("2026-11-21", "2026-11-20")
    future = Filters(since="2020-01-01T00:00:00.000000Z", until="2030-01-01T00:00:00.000000Z")
    assert search.day_range(future, NOW, horizon) == ("2026-11-23", "2026-11-09")
    assert search.previous_day("2026-03-01") == "2026-02-28"


AFTER = index.created_key(NOW, "e1")


KEY = b"k" * 32


def _token(document: Any) -> str:
    """A token as this API signs them, of any document: what passes the signature must pass the checks."""
    payload = base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")
    return tokens.signed(KEY, search.TOKEN_SCOPE, payload)


def test_a_page_resumes_after_the_created_key_it_stopped_at_the_rest_follows_from_the_filters():
    orders = Filters(workflow="orders")
    assert search.query_spec(search.plan(orders), orders, NOW, Cursor(AFTER)).start_key == {
        "pk": {"S": "EXEC#e1"},
        "sk": {"S": "EXEC"},
        "createdKey": {"S": AFTER},
        "workflow": {"S": "orders"},
    }
    by_day = search.query_spec(search.plan(Filters()), Filters(), NOW, Cursor(AFTER, "2026-11-23"))
    assert by_day.start_key is not None
    assert by_day.start_key["createdDay"] == {"S": "2026-11-23"}
    by_field = Filters(workflow="orders", input_match=InputMatch("customerId", "42"))
    pointer = search.query_spec(search.plan(by_field), by_field, NOW, Cursor(AFTER)).start_key
    assert pointer is not None
    assert (pointer["sk"], pointer["searchKey"]) == ({"S": "FIELD#customerId"}, {"S": "orders#customerId=42"})


def test_a_token_round_trips_for_the_same_filters_only():
    filters = Filters(workflow="orders")
    plan = search.plan(filters)
    token = search.encode_token(plan, filters, Cursor(AFTER), KEY)
    assert "=" not in token
    assert len(token) < 200  # whatever the filters: it holds a createdKey, not their values
    assert search.decode_token(token, plan, filters, KEY) == Cursor(AFTER)
    for other in (Filters(workflow="orders", status=COMPLETED), Filters(workflow="orders", since="x")):
        with pytest.raises(InvalidNextToken, match="other filters"):
            search.decode_token(token, search.plan(other), other, KEY)


def test_a_day_token_round_trips():
    plan = search.plan(Filters())
    for cursor in (Cursor(AFTER, "2026-11-23"), Cursor(None, "2026-11-21")):
        assert (
            search.decode_token(search.encode_token(plan, Filters(), cursor, KEY), plan, Filters(), KEY)
            == cursor
        )


def test_the_fingerprint_depends_on_every_filter():
    variants = [
        Filters(),
        Filters(workflow="orders"),
        Filters(status=RUNNING),
        Filters(correlation_id="c"),
        Filters(since="a"),
        Filters(until="a"),
        Filters(workflow="orders", input_match=InputMatch("customerId", "1")),
        Filters(workflow="orders", input_match=InputMatch("customerId", "2")),
    ]
    assert len({variant.fingerprint() for variant in variants}) == len(variants)
    assert Filters(workflow="orders").fingerprint() == Filters(workflow="orders").fingerprint()


ORDERS = Filters(workflow="orders")
FINGERPRINT = ORDERS.fingerprint()


@pytest.mark.parametrize(
    "token",
    [
        "not a token",
        "%%%",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _token([1, 2]),
        _token({"i": "ByWorkflow", "f": FINGERPRINT, "extra": 1}),
        _token({"i": "ByWorkflow", "f": FINGERPRINT, "d": "2026-11-23"}),
        _token({"i": "ByWorkflow", "f": FINGERPRINT, "a": {"pk": {"S": "EXEC#e1"}}}),
        _token({"i": "ByWorkflow", "f": FINGERPRINT, "a": 12}),
        _token({"i": "ByWorkflow", "f": FINGERPRINT, "a": "e1"}),
        _token({"i": "ByWorkflow", "f": FINGERPRINT, "a": AFTER.replace("#e1", "#")}),
        _token({"i": "ByWorkflow", "f": FINGERPRINT, "a": AFTER.replace("#e1", "#e 1")}),
        _token({"i": "ByWorkflow", "f": FINGERPRINT, "a": AFTER.replace(".000000Z", "Z")}),
        _token({"i": "ByWorkflow", "f": FINGERPRINT, "a": AFTER + "\n"}),
        _token({"i": "ByWorkflow", "f": FINGERPRINT, "a": AFTER.replace("#e1", "#" + "e" * 81)}),
        "W" * 3000,
        base64.urlsafe_b64encode(b"[" * 1500).decode(),  # nested deeper than the JSON parser goes
        # A position that would do, without a signature (as tokens were before they were signed)...
        _token({"i": "ByWorkflow", "f": FINGERPRINT, "a": AFTER}).rsplit(".", 1)[0],
        # ...cut short, under another position's signature, or signed with another stack's key.
        _token({"i": "ByWorkflow", "f": FINGERPRINT, "a": AFTER})[:-1],
        _token({"i": "ByWorkflow", "f": FINGERPRINT}).rsplit(".", 1)[0]
        + "."
        + _token({"i": "ByWorkflow", "f": FINGERPRINT, "a": AFTER}).rsplit(".", 1)[1],
        search.encode_token(search.plan(ORDERS), ORDERS, Cursor(AFTER), b"x" * 32),
    ],
)
def test_a_garbled_or_forged_token_is_refused(token: str):
    with pytest.raises(InvalidNextToken):
        search.decode_token(token, search.plan(ORDERS), ORDERS, KEY)


@pytest.mark.parametrize("day", ["2026-13-01", "yesterday", "2026-11-3", 20261123])
def test_a_day_token_needs_a_real_day(day: Any):
    fingerprint = Filters().fingerprint()
    with pytest.raises(InvalidNextToken):
        search.decode_token(
            _token({"i": "ByDay", "f": fingerprint, "d": day}), search.plan(Filters()), Filters(), KEY
        )
    with pytest.raises(InvalidNextToken):
        search.decode_token(_token({"i": "ByDay", "f": fingerprint}), search.plan(Filters()), Filters(), KEY)
    other_day = _token({"i": "ByDay", "f": fingerprint, "d": "2026-11-22", "a": AFTER})
    with pytest.raises(InvalidNextToken):
        search.decode_token(other_day, search.plan(Filters()), Filters(), KEY)


@pytest.mark.parametrize(
    ("text", "end_of_day", "expected"),
    [
        ("2026-12-01", False, datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01", True, datetime(2026, 12, 1, 23, 59, 59, 999_999, tzinfo=UTC)),
        ("9999-12-31", True, datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)),
        ("2026-12-01T10:00:00Z", True, datetime(2026, 12, 1, 10, tzinfo=UTC)),
        ("2026-12-01T10:00:00+02:00", False, datetime(2026, 12, 1, 8, tzinfo=UTC)),
    ],
)
def test_an_instant_is_a_date_time_with_an_offset_or_a_utc_day(
    text: str, end_of_day: bool, expected: datetime
):
    assert search.instant(text, end_of_day=end_of_day) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "2026-12-01T10:00:00",
            "the date-time has no offset: add Z or one such as +01:00 (sent as %2B01:00)",
        ),
        (
            "2026-12-01T10:00:00 02:00",
            "a space where the offset's + was: send + as %2B (a bare + in a query is a space)",
        ),
        ("2026-12-01 10:00:00+02:00", f"expected {search.INSTANT_FORMS}"),
        ("2026-12", f"expected {search.INSTANT_FORMS}"),
        ("2026-13-01", f"expected {search.INSTANT_FORMS}; 2026-13-01 is no day of the calendar"),
        ("tomorrow", f"expected {search.INSTANT_FORMS}"),
    ],
)
def test_anything_else_is_refused_saying_what_is_wrong(text: str, message: str):
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        search.instant(text)
