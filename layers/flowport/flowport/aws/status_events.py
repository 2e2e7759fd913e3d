"""Reading a Step Functions "Execution Status Change" event as a StatusChange.

Only the sync function loads this module: Powertools' parser models, which check the EventBridge
envelope, are not worth the other functions' cold start.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import ValidationError

from flowport.core.sync import StatusChange


class UnreadableEvent(Exception):
    """An event flowport cannot read as a status change.

    Its message names the event and its execution, so an operator can find them, and the fields at
    fault, never their values: an event carries the execution's input and output, which must not reach
    the logs.
    """

    @classmethod
    def from_validation(cls, event: dict[str, Any], error: ValidationError) -> UnreadableEvent:
        faults = "; ".join(
            f"{'.'.join(str(part) for part in fault['loc'])}: {fault['type']}"
            for fault in error.errors(include_url=False, include_context=False, include_input=False)
        )
        detail = event.get("detail")
        execution = detail.get("executionArn") if isinstance(detail, dict) else None
        names = {"event": event.get("id"), "execution": execution}
        named = ", ".join(f"{name} {value}" for name, value in names.items() if isinstance(value, str))
        return cls(f"not a readable status change event ({named or 'unnamed'}): {faults}")


class StatusChangeEvent(EventBridgeModel):
    detail: StatusChange


def read_status_change(event: dict[str, Any]) -> StatusChange:
    """The status change an EventBridge event carries, or UnreadableEvent."""
    try:
        return parse(event=event, model=StatusChangeEvent).detail
    except ValidationError as error:
        # `from None`: pydantic's own message quotes the values, and Lambda logs a raised error whole.
        raise UnreadableEvent.from_validation(event, error) from None
