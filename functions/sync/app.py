"""Sync Lambda: Step Functions "Execution Status Change" events (EventBridge) onto the execution records."""

from typing import Any

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from flowport.observability import logger, observed
from flowport.services import execution_service
from flowport.sync import StatusChange, UnreadableEvent
from pydantic import ValidationError


class StatusChangeEvent(EventBridgeModel):
    detail: StatusChange


def _handle(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    try:
        change = parse(event=event, model=StatusChangeEvent).detail
    except ValidationError as error:
        # `from None`: pydantic's own message quotes the values, and Lambda logs a raised error whole.
        raise UnreadableEvent.from_validation(error) from None
    applied = execution_service().apply_status_change(change)
    logger.info(
        "status change", extra={"execution": change.name, "status": change.status, "applied": applied}
    )
    return {"applied": applied}


lambda_handler = observed(_handle)
