"""Reconcile Lambda, every minute (EventBridge Scheduler): repairs concurrency slots and queues."""

from typing import Any

from flowport.startup import init_phase

with init_phase():
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from flowport import services
    from flowport.observability import logger, observed

    services.load_use_cases("reconcile")


def _handle(_event: dict[str, Any], _context: LambdaContext) -> dict[str, Any]:
    repairs = services.reconcile().run()
    for repair in repairs:
        logger.warning(
            "repaired",
            extra={
                "repair": repair.kind.value,
                "workflow": repair.workflow,
                "execution": repair.execution_id,
                "reason": repair.reason,
            },
        )
    # A log line per repair, and none when there is none: a CloudWatch Logs metric filter on "repaired"
    # counts them, as the functions emit no metrics of their own.
    return {"repairs": len(repairs)}


lambda_handler = observed(_handle)
