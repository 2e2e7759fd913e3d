"""Which AWS failures are passing (answer 503, retry later) rather than bugs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

from flowport.core.errors import ServiceUnavailable

TRANSIENT_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
    }
)


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def transient_failures_as_unavailable(service: str) -> Iterator[None]:
    try:
        yield
    except ClientError as error:
        if error_code(error) in TRANSIENT_ERROR_CODES:
            raise ServiceUnavailable(f"{service} is busy; retry shortly", retry_after_seconds=2) from error
        raise
    except BotoCoreError as error:  # connection failures and timeouts
        raise ServiceUnavailable(
            f"{service} could not be reached; retry shortly", retry_after_seconds=2
        ) from error
