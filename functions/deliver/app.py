"""Deliver Lambda: the delivery queue's messages (SQS), each one attempt of one webhook message.

A message that waits longer goes back to the queue for another hop, a failed attempt queues the next one
after the schedule's wait: the batch fails only where AWS itself failed, and those messages come again
(partial batch responses), the queue's redrive policy dead-lettering a message that keeps failing so.
"""

from typing import Any

from flowport.startup import init_phase

with init_phase():
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from flowport import services
    from flowport.core.webhooks import DeliveryMessage
    from flowport.observability import logger, observed

    services.load_use_cases("deliver")
    processor = BatchProcessor(event_type=EventType.SQS)


def _deliver(record: SQSRecord) -> None:
    message = DeliveryMessage.model_validate_json(record.body)
    log = services.deliver_callback().deliver(message)
    if log is None:
        return
    attempt = log.attempts[-1]
    # Ids, status and timing only: never the body, the URL's query or a signature.
    logger.info(
        "delivery attempt",
        extra={
            "execution": message.execution_id,
            "webhookId": message.message_id,
            "attempt": message.attempt,
            "state": log.state.value,
            "responseStatus": attempt.response_status,
            "latencyMs": attempt.latency_ms,
            "error": attempt.error,
        },
    )


def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    failures = process_partial_response(
        event=event, record_handler=_deliver, processor=processor, context=context
    )
    return dict(failures)


lambda_handler = observed(_handle)
