"""Sync Lambda: Step Functions "Execution Status Change" events (EventBridge) onto the execution records."""

from typing import Any

from flowport.startup import init_phase

with init_phase():
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from flowport import services
    from flowport.aws.status_events import read_status_change
    from flowport.observability import logger, observed

    services.load_use_cases("sync")


def _handle(event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    change = read_status_change(event)
    applied = services.apply_status_change().apply(change)
    logger.info(
        "status change", extra={"execution": change.name, "status": change.status, "applied": applied}
    )
    return {"applied": applied}


lambda_handler = observed(_handle)
