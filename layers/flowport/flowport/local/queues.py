"""The local counterpart of template.yaml's SQS event sources (SAM `SQS` events): moto keeps the queues
(delays, visibility timeouts and redrive policies included); this polls each one and invokes its function
with batches shaped as Lambda's event source mapping sends them, deleting what the function did not
report as failed (`ReportBatchItemFailures`), as AWS does. A function that raises leaves its whole batch
to come again after the queue's visibility timeout.
"""

from __future__ import annotations

import json
import sys
import threading
from functools import partial
from typing import TYPE_CHECKING, Any

import boto3

from flowport.local.functions import invoke
from flowport.local.template import LOCAL_REGION, FunctionSpec, QueueEventSpec, Stack
from flowport.local.workers import Workers

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# How long a poll that found nothing waits before the next: the latency of a local delivery, at most.
IDLE_POLL_SECONDS = 0.05


def queue_url(queue_arn: str) -> str:
    _, _, _, region, account, name = queue_arn.split(":", 5)
    return f"https://sqs.{region}.amazonaws.com/{account}/{name}"


def sqs_event(records: list[MessageTypeDef], queue_arn: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": LOCAL_REGION,
            }
            for message in records
        ]
    }


class LocalQueuePollers:
    def __init__(self, stack: Stack) -> None:
        self._workers = Workers(
            (f"flowport-sqs-{source.name}", partial(self._run, spec, source))
            for spec in stack.functions.values()
            for source in spec.queues
        )

    def close(self, timeout: float = 10.0) -> None:
        """Stop polling: a batch under way finishes first (before the embedded moto goes away)."""
        self._workers.close(timeout)

    def _run(self, spec: FunctionSpec, source: QueueEventSpec, stopped: threading.Event) -> None:
        client: SQSClient = boto3.client("sqs", region_name=LOCAL_REGION)
        url = queue_url(source.queue_arn)
        while not stopped.is_set():
            try:
                received = client.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=source.batch_size, AttributeNames=["All"]
                ).get("Messages", [])
                if not received:
                    stopped.wait(IDLE_POLL_SECONDS)
                    continue
                self._deliver(client, url, spec, source, received)
            except Exception as error:  # the next poll comes all the same, as the event source's does
                report = {"level": "ERROR", "message": "queue poll failed", "source": source.name}
                print(json.dumps({**report, "error": f"{type(error).__name__}: {error}"}), file=sys.stderr)
                stopped.wait(IDLE_POLL_SECONDS)

    @staticmethod
    def _deliver(
        client: SQSClient,
        url: str,
        spec: FunctionSpec,
        source: QueueEventSpec,
        received: list[MessageTypeDef],
    ) -> None:
        result = invoke(spec, sqs_event(received, source.queue_arn))
        failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        for message in received:
            if message["MessageId"] not in failed:
                client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
