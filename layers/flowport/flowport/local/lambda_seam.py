"""The seam that lets moto's Step Functions run this repo's Lambda functions in-process (no Docker).

moto internals relied on (moto 5.2; tests/local/test_lambda_seam.py fails loudly if they change):
- Step Functions tasks invoke Lambda through boto3 -> `moto.awslambda.models.LambdaFunction.invoke`, which
  calls `LambdaFunction._invoke_lambda(self, event) -> (payload: str, errored: bool, logs: str)`.
- That path is taken while Lambda's `use_docker` config keeps its default (True); with `use_docker: False`
  moto uses another backend that never calls `_invoke_lambda`.
We replace `_invoke_lambda` once per process; functions not registered here keep moto's behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from moto.awslambda.models import LambdaFunction

from flowport.local.functions import error_payload, invoke
from flowport.local.template import FunctionSpec

_functions: dict[str, FunctionSpec] = {}
_original = LambdaFunction._invoke_lambda


def _invoke_in_process(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    spec = _functions.get(self.function_name)
    if spec is None:
        return _original(self, event)
    payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
    try:
        result = invoke(spec, payload)
    except Exception as error:
        return json.dumps(error_payload(error)), True, ""
    return json.dumps(result), False, ""


def register(functions: Mapping[str, FunctionSpec]) -> None:
    """Run these functions (by physical name) in-process from now on."""
    _functions.update(functions)
    LambdaFunction._invoke_lambda = _invoke_in_process  # type: ignore[method-assign]


def is_installed() -> bool:
    return LambdaFunction._invoke_lambda is _invoke_in_process
