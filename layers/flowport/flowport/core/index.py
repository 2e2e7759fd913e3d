"""The search's indexes and the keys an execution's items carry for them: written by every start
(flowport.aws.store), read by the search (flowport.core.search, which plans the queries).

Every index is sorted by `createdKey` (`<createdAt in UTC, fixed width>#<executionId>`, so text order is
time order and no two executions tie). Only execution records and their input-field pointer items carry
it, which keeps idempotency keys out of every index although they hold `workflow` and `status` too.
template.yaml declares the indexes (tests/test_template.py checks that both agree).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from flowport.core.registry import Workflow

# A search value shares a partition key (2048 bytes at most) with its workflow's and field's names.
MAX_SEARCH_VALUE_BYTES = 1024
SORT_KEY = "createdKey"
DAY_KEY = "createdDay"
RECORD_SORT_KEY = "EXEC"
POINTER_SORT_KEY_PREFIX = "FIELD#"
# What the record indexes project: an execution summary, and the TTL that says whether it still counts.
LISTED_ATTRIBUTES = (
    "executionId",
    "workflow",
    "version",
    "status",
    "correlationId",
    "priority",
    "createdAt",
    "startedBy",
    "expiresAt",
)


class Index(StrEnum):
    """The table's global secondary indexes, the most selective first."""

    BY_INPUT_FIELD = "ByInputField"
    BY_CORRELATION_ID = "ByCorrelationId"
    BY_STARTED_BY = "ByStartedBy"
    BY_WORKFLOW = "ByWorkflow"
    BY_STATUS = "ByStatus"
    BY_DAY = "ByDay"

    @property
    def partition_key(self) -> str:
        return _PARTITION_KEYS[self]


_PARTITION_KEYS = {
    Index.BY_INPUT_FIELD: "searchKey",
    Index.BY_CORRELATION_ID: "correlationId",
    Index.BY_STARTED_BY: "startedBy",
    Index.BY_WORKFLOW: "workflow",
    Index.BY_STATUS: "status",
    Index.BY_DAY: DAY_KEY,
}


# -- what the records carry ---------------------------------------------------------------------------


def created_text(moment: datetime) -> str:
    """An instant in UTC as fixed-width ISO 8601 (`2026-11-23T14:38:26.494000Z`): text order is time order."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def created_key(created_at: datetime, execution_id: str) -> str:
    return f"{created_text(created_at)}#{execution_id}"


def created_day(created_at: datetime) -> str:
    return created_text(created_at)[:10]


def search_text(value: Any) -> str | None:
    """The text an input value is found by, whatever its JSON type: what a URL would carry.

    A string as it is; an integer, or a whole number, in digits (42.0 is `42`); another number in its
    shortest form (`0.5`); `true` or `false`. So `input.customerId=42` finds both `"42"` and `42`.
    Objects, arrays, null and texts over MAX_SEARCH_VALUE_BYTES cannot be searched for.
    """
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float) and math.isfinite(value):
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, str):
        text = value
    else:
        return None
    return text if len(text.encode()) <= MAX_SEARCH_VALUE_BYTES else None


def search_key(workflow: str, field: str, text: str) -> str:
    # No workflow name or field name holds '#' or '=' (flowport.core.registry): this is unambiguous.
    return f"{workflow}#{field}={text}"


def pointer_sort_key(field: str) -> str:
    return f"{POINTER_SORT_KEY_PREFIX}{field}"


def search_keys(workflow: Workflow, workflow_input: Mapping[str, Any]) -> dict[str, str]:
    """Field name -> search key, for each searchable field the input holds a searchable value in."""
    keys = {}
    for name in workflow.searchable_input_fields:
        text = search_text(workflow_input.get(name))
        if text is not None:
            keys[name] = search_key(workflow.name, name, text)
    return keys
