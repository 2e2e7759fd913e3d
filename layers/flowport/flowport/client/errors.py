"""What the client raises: the API's problem documents (RFC 9457) as exceptions."""

from __future__ import annotations

from typing import Any


class FlowportApiError(Exception):
    """The API answered with an error: its problem document's `code`, `status`, `title` and `detail`, and
    the whole document (`problem`: `executionId`, `executionStatus` and other extensions)."""

    def __init__(self, status: int, problem: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.problem = problem
        self.code = str(problem.get("code") or f"http_{status}")
        self.title = str(problem.get("title") or "")
        self.detail = str(problem.get("detail") or problem.get("message") or "")
        self.headers = headers or {}
        super().__init__(f"{status} {self.code}: {self.detail or self.title}")

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed later (throttled, or the service was busy)."""
        return self.status in (429, 502, 503, 504)


class WaitTimedOut(TimeoutError):
    """`wait` gave up before the execution ended; `execution` is how it was last seen."""

    def __init__(self, execution_id: str, last_status: str | None) -> None:
        self.execution_id = execution_id
        self.last_status = last_status
        super().__init__(f"execution {execution_id} had not ended in time (last seen {last_status})")
