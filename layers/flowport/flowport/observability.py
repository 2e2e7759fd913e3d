"""Logger, Tracer and Metrics, created once; every function's handler gets the same decorators.

Configured by POWERTOOLS_* environment variables (template.yaml Globals). Events are never logged:
they carry request bodies and idempotency keys.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from flowport.settings import get_settings

# Routes that emit no metric of their own still publish the cold-start metric; the warning is noise.
warnings.filterwarnings("ignore", message="No application metrics to publish")

logger = Logger()
tracer = Tracer(patch_modules=("botocore",))  # the AWS SDK is all flowport calls out with
metrics = Metrics()

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def observed(handler: Handler, correlation_id_path: str | None = None) -> Handler:
    """The same logging, tracing and metrics around every function's handler.

    Built at the function's init, which is also when its settings are checked: a function deployed
    without a variable it needs fails to start, naming it, rather than at its first request.
    """
    get_settings()
    decorated = metrics.log_metrics(capture_cold_start_metric=True)(handler)
    decorated = tracer.capture_lambda_handler(decorated)
    return logger.inject_lambda_context(correlation_id_path=correlation_id_path, log_event=False)(decorated)


def api_handler(resolve: Handler) -> Handler:
    """Wrap a resolver's `resolve` as a Lambda handler fronted by API Gateway."""
    return observed(resolve, correlation_paths.API_GATEWAY_REST)
