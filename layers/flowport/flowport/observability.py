"""Logger and Metrics, created once; every function's handler gets the same decorators.

Configured by POWERTOOLS_* environment variables (template.yaml Globals). Events are never logged:
they carry request bodies and idempotency keys.

Tracing is Lambda's own (`Tracing: Active`), not an SDK's: Lambda records each invocation's segment and
passes its trace header in `_X_AMZN_TRACE_ID`, which the Logger adds to every line as `xray_trace_id`.
The AWS X-Ray SDK for Python, which Powertools' Tracer needs, is in maintenance mode since 2026-02-25
and out of support from 2027-02-25, and its import was about half of the functions' cold-start gap.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from flowport.settings import get_settings

# Routes that emit no metric of their own still publish the cold-start metric; the warning is noise.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
metrics = Metrics()

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def observed(handler: Handler, correlation_id_path: str | None = None) -> Handler:
    """The same logging and metrics around every function's handler.

    Built at the function's init, which is also when its settings are checked: a function deployed
    without a variable it needs fails to start, naming it, rather than at its first request.
    """
    get_settings()
    decorated = metrics.log_metrics(capture_cold_start_metric=True)(handler)
    observed_handler: Handler = logger.inject_lambda_context(
        correlation_id_path=correlation_id_path, log_event=False
    )(decorated)
    return observed_handler


def api_handler(resolve: Handler) -> Handler:
    """Wrap a resolver's `resolve` as a Lambda handler fronted by API Gateway."""
    return observed(resolve, correlation_paths.API_GATEWAY_REST)
