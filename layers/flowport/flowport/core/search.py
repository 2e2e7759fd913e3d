"""Searching executions (GET /executions): the filters, which index serves them, that index's Query as
data, and the opaque page token. Plain rules, no AWS: flowport.aws.search_store runs the queries described
here, over the indexes and keys of flowport.core.index.

Apart from the keys because only the status function searches: the others write keys, and need none of
this at their init.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flowport.core import tokens
from flowport.core.errors import FieldNotSearchable, InvalidNextToken, InvalidParameter
from flowport.core.identity import Caller
from flowport.core.index import (
    MAX_SEARCH_VALUE_BYTES,
    RECORD_SORT_KEY,
    SORT_KEY,
    Index,
    created_text,
    pointer_sort_key,
    search_key,
)
from flowport.core.models import ExecutionStatus, ExecutionSummary, FieldProblem
from flowport.core.registry import Workflow

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
INPUT_PREFIX = "input."
# A search without filters reads one day per Query; a page stops after this many even if not full.
MAX_DAYS_PER_PAGE = 31
# '$' follows '#' in ASCII: `<instant>$` sorts after every `<instant>#<executionId>`, before later instants.
_AFTER_EVERY_ID = "$"
StartKey = dict[str, dict[str, str]]


# -- the request ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InputMatch:
    field: str
    text: str


@dataclass(frozen=True)
class Filters:
    """A search's filters, checked and normalised; `since` and `until` as created_text (inclusive)."""

    workflow: str | None = None
    status: ExecutionStatus | None = None
    correlation_id: str | None = None
    since: str | None = None
    until: str | None = None
    input_match: InputMatch | None = None
    started_by: str | None = None
    workflows: tuple[str, ...] | None = None  # only these workflows' (a caller's scope); None: any

    def fingerprint(self) -> str:
        """Ties a page token to its filters; not a secret, so a short hash will do."""
        return hashlib.sha256(json.dumps(astuple(self)).encode()).hexdigest()[:16]


def _invalid(parameter: str, message: str) -> InvalidParameter:
    return InvalidParameter(
        f"Invalid request parameter: {parameter}: {message}",
        errors=[FieldProblem(field=f"/query/{parameter}", message=message)],
    )


_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# What a query's `+02:00` becomes when the client leaves the + unencoded: a space (form encoding's +).
_SPACE_FOR_PLUS = re.compile(r"T[\d:.]+ \d{2}(:?\d{2})?$")
INSTANT_FORMS = "a date (2026-12-01, a UTC day) or a date-time with Z or an offset (2026-12-01T10:00:00Z)"


def instant(text: str, *, end_of_day: bool = False) -> datetime:
    """A `since` or `until` bound: an ISO 8601 date-time with Z or an offset, or a date, which is a UTC
    day: its first microsecond, or with `end_of_day` its last (bounds are inclusive). ValueError says
    what is wrong with anything else."""
    if _DAY.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"expected {INSTANT_FORMS}; {text} is no day of the calendar") from None
        if end_of_day:
            return datetime(day.year, day.month, day.day, 23, 59, 59, 999_999, tzinfo=UTC)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    if _SPACE_FOR_PLUS.search(text):
        raise ValueError("a space where the offset's + was: send + as %2B (a bare + in a query is a space)")
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"expected {INSTANT_FORMS}") from None
    if "T" not in text.upper():
        raise ValueError(f"expected {INSTANT_FORMS}")
    if moment.tzinfo is None:
        raise ValueError("the date-time has no offset: add Z or one such as +01:00 (sent as %2B01:00)")
    return moment


def input_values(parameters: Mapping[str, str]) -> dict[str, str]:
    """The `input.<field>` parameters, by field (any other unknown name was refused: flowport.core.query)."""
    return {
        name.removeprefix(INPUT_PREFIX): value
        for name, value in parameters.items()
        if name.startswith(INPUT_PREFIX)
    }


def filters(
    *,
    workflow: Workflow | None = None,
    status: ExecutionStatus | None = None,
    correlation_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    inputs: Mapping[str, str] | None = None,
    started_by: str | None = None,
    workflows: tuple[str, ...] | None = None,
) -> Filters:
    since_text, until_text = _bound("since", since), _bound("until", until)
    if since_text and until_text and since_text > until_text:
        raise _invalid("until", "must not be before since")
    return Filters(
        workflow=workflow.name if workflow else None,
        status=status,
        correlation_id=correlation_id,
        since=since_text,
        until=until_text,
        input_match=_input_match(workflow, inputs or {}),
        started_by=started_by,
        workflows=None if workflow else workflows,
    )


def _bound(parameter: str, moment: datetime | None) -> str | None:
    if moment is None:
        return None
    try:
        return created_text(moment)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 has no UTC year
        raise _invalid(parameter, "out of range") from None


def _input_match(workflow: Workflow | None, inputs: Mapping[str, str]) -> InputMatch | None:
    if not inputs:
        return None
    if len(inputs) > 1:
        raise InvalidParameter(
            "Search by one input field at a time",
            errors=[
                FieldProblem(field=f"/query/{INPUT_PREFIX}{name}", message="one at a time") for name in inputs
            ],
        )
    ((name, text),) = inputs.items()
    parameter = f"{INPUT_PREFIX}{name}"
    if workflow is None:
        raise _invalid(parameter, "searching by an input field needs the workflow parameter")
    if name not in workflow.searchable_input_fields:
        raise FieldNotSearchable(
            f"Workflow '{workflow.name}' does not declare input field '{name}' searchable; "
            f"its searchable fields: {list(workflow.searchable_input_fields)}"
        )
    if len(text.encode()) > MAX_SEARCH_VALUE_BYTES:
        raise _invalid(parameter, f"longer than {MAX_SEARCH_VALUE_BYTES} bytes, so never indexed")
    return InputMatch(name, text)


# -- which index, and its Query ------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    index: Index
    partition: str | None  # the partition key's value; None for ByDay, whose partitions are walked
    residual: dict[str, str]  # attribute -> value the partition does not imply: filtered for


def plan(filters: Filters) -> Plan:
    """The most selective index for the filters; the other filters are applied to what it holds."""
    wanted = {
        "workflow": filters.workflow,
        "status": filters.status,
        "correlationId": filters.correlation_id,
        "startedBy": filters.started_by,
    }
    partition: str | None
    if filters.input_match is not None:
        assert filters.workflow is not None
        index = Index.BY_INPUT_FIELD
        partition = search_key(filters.workflow, filters.input_match.field, filters.input_match.text)
        wanted["workflow"] = None  # part of the search key
    elif filters.correlation_id is not None:
        index, partition = Index.BY_CORRELATION_ID, filters.correlation_id
    elif filters.started_by is not None:
        index, partition = Index.BY_STARTED_BY, filters.started_by
    elif filters.workflow is not None and filters.status is not None:
        # COMPLETED is the bulk of a workflow's history: its workflow's partition is the smaller one to
        # read. Any other status is a thin slice of all executions, smaller than the workflow's history.
        completed = filters.status is ExecutionStatus.COMPLETED
        index = Index.BY_WORKFLOW if completed else Index.BY_STATUS
        partition = filters.workflow if completed else str(filters.status)
    elif filters.workflow is not None:
        index, partition = Index.BY_WORKFLOW, filters.workflow
    elif filters.status is not None:
        index, partition = Index.BY_STATUS, str(filters.status)
    else:
        index, partition = Index.BY_DAY, None
    residual = {
        name: str(value)
        for name, value in wanted.items()
        if value is not None and name != index.partition_key
    }
    return Plan(index, partition, residual)


@dataclass(frozen=True)
class QuerySpec:
    """One Query on an index, newest first, as data; the store adds the table and the limit."""

    index: Index
    key_condition: str
    filter: str | None
    names: dict[str, str]
    values: dict[str, dict[str, str]]
    start_key: StartKey | None  # DynamoDB's ExclusiveStartKey


def query_spec(plan: Plan, filters: Filters, now: datetime, cursor: Cursor) -> QuerySpec:
    """The Query of the plan's index, from the cursor on (for ByDay, the cursor's day's)."""
    partition = cursor.day if plan.index is Index.BY_DAY else plan.partition
    assert partition is not None
    start_key = _start_key(plan, filters, partition, cursor.after) if cursor.after else None
    names = {"#pk": plan.index.partition_key}
    values = {":pk": {"S": partition}}
    key_condition = "#pk = :pk"
    if filters.since is not None:
        values[":since"] = {"S": filters.since}
    if filters.until is not None:
        values[":until"] = {"S": filters.until + _AFTER_EVERY_ID}
    if filters.since is not None and filters.until is not None:
        key_condition += " AND #sk BETWEEN :since AND :until"
    elif filters.since is not None:
        key_condition += " AND #sk >= :since"
    elif filters.until is not None:
        key_condition += " AND #sk <= :until"
    if filters.since is not None or filters.until is not None:
        names["#sk"] = SORT_KEY
    if plan.index is Index.BY_INPUT_FIELD:
        # Pointer items hold no status: the records they point to are read, then filtered (`matches`).
        return QuerySpec(plan.index, key_condition, None, names, values, start_key)
    conditions = ["#expiresAt >= :now"]
    names["#expiresAt"] = "expiresAt"
    # Expired when expiresAt < now, as ExecutionStore.get has it; whole seconds, rounded up to agree.
    values[":now"] = {"N": str(math.ceil(now.timestamp()))}
    for number, (attribute, value) in enumerate(sorted(plan.residual.items())):
        names[f"#f{number}"] = attribute
        values[f":f{number}"] = {"S": value}
        conditions.append(f"#f{number} = :f{number}")
    if filters.workflows is not None:
        names["#workflow"] = "workflow"
        placeholders = [f":w{number}" for number in range(len(filters.workflows))]
        values.update({p: {"S": name} for p, name in zip(placeholders, filters.workflows, strict=True)})
        conditions.append(f"#workflow IN ({', '.join(placeholders)})")
    return QuerySpec(plan.index, key_condition, " AND ".join(conditions), names, values, start_key)


def _start_key(plan: Plan, filters: Filters, partition: str, after: str) -> StartKey:
    """The key of the item a page stopped at: its createdKey, the rest follows from the filters."""
    match = filters.input_match
    return {
        "pk": {"S": f"EXEC#{after.partition('#')[2]}"},
        "sk": {"S": pointer_sort_key(match.field) if match else RECORD_SORT_KEY},
        SORT_KEY: {"S": after},
        plan.index.partition_key: {"S": partition},
    }


def matches(summary: ExecutionSummary, residual: Mapping[str, str]) -> bool:
    attributes = summary.model_dump(mode="json", by_alias=True)
    return all(attributes.get(name) == value for name, value in residual.items())


def scoped(
    caller: Caller, workflow: str | None, started_by: str | None
) -> tuple[str | None, tuple[str, ...] | None] | None:
    """A search's startedBy and workflows filters narrowed to what `caller` may read; None when nothing
    can match (a caller that reads only its own executions, asking for another principal's)."""
    if caller.scopes.own_executions_only:
        if started_by not in (None, caller.principal_id):
            return None
        started_by = caller.principal_id
    if workflow is not None or caller.scopes.all_workflows:
        return started_by, None
    return started_by, caller.scopes.workflows


# -- walking days, for a search without filters ---------------------------------------------------------


def record_horizon(max_run_seconds: int, retention_hours: Iterable[int]) -> timedelta:
    """How old a record can be before its TTL: it may run this long, then be retained this long."""
    return timedelta(seconds=max_run_seconds, hours=max(retention_hours, default=24))


def day_range(filters: Filters, now: datetime, horizon: timedelta) -> tuple[str, str]:
    """The newest and the oldest day a search without filters reads: `until` (or today) back to `since`
    (or the oldest day a record can still exist on)."""
    today = created_text(now)
    newest = min(filters.until or today, today)[:10]
    oldest = max(filters.since or "", created_text(now - horizon))[:10]
    return newest, oldest


def previous_day(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


# -- page tokens ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    """Where a page starts: after the item whose createdKey is `after` (None: at the newest), and for
    ByDay in `day`'s partition. A Query's LastEvaluatedKey is that createdKey plus what the filters say."""

    after: str | None = None
    day: str | None = None


TOKEN_SCOPE = "search"


def encode_token(plan: Plan, filters: Filters, cursor: Cursor, key: bytes) -> str:
    document = {"i": plan.index.value, "f": filters.fingerprint(), "a": cursor.after, "d": cursor.day}
    return tokens.encode({k: v for k, v in document.items() if v is not None}, key=key, scope=TOKEN_SCOPE)


def decode_token(token: str, plan: Plan, filters: Filters, key: bytes) -> Cursor:
    """The cursor a token holds; InvalidNextToken unless this API made it for these very filters."""
    document = tokens.decode(token, key=key, scope=TOKEN_SCOPE)
    if set(document) - {"i", "f", "a", "d"}:
        raise _bad_token()
    if document.get("i") != plan.index.value or document.get("f") != filters.fingerprint():
        raise InvalidNextToken("nextToken belongs to a search with other filters: repeat the same filters")
    after, day = document.get("a"), document.get("d")
    if (day is not None) != (plan.index is Index.BY_DAY) or (day is not None and not _is_day(day)):
        raise _bad_token()
    # Checked, so that DynamoDB never gets a start key it would refuse (a 500, not the caller's 400).
    if after is not None and not (
        isinstance(after, str) and _CREATED_KEY.fullmatch(after) and (day is None or after.startswith(day))
    ):
        raise _bad_token()
    return Cursor(after, day)


_CREATED_KEY = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z#[A-Za-z0-9_-]{1,80}")


def _bad_token() -> InvalidNextToken:
    return InvalidNextToken("nextToken is not one this API gave: pass the previous page's nextToken as is")


def _is_day(value: Any) -> bool:
    try:
        return isinstance(value, str) and date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False
