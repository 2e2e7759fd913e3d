"""Turning a request into a workflow input: body or query parameters, content variable, schema, size."""

from __future__ import annotations

import json
from typing import Any

from flowport.core.errors import InputValidationFailed, MalformedJson, PayloadTooLarge, UnsupportedMediaType
from flowport.core.models import FieldProblem
from flowport.core.registry import Workflow

# Step Functions refuses execution inputs over 256 KiB (UTF-8 bytes of the JSON text).
MAX_INPUT_BYTES = 256 * 1024
# Query parameters that steer the start and are never part of the input.
RESERVED_QUERY_PARAMETERS = frozenset({"version", "correlationId", "priority"})


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


# Bodies of these types are read as JSON too: `curl -d` labels JSON as a form, and some clients send text.
_LENIENT_MEDIA_TYPES = frozenset({"application/x-www-form-urlencoded", "text/plain"})


def _is_json_media_type(content_type: str | None) -> bool:
    if not content_type:
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    return (
        media_type == "application/json" or media_type.endswith("+json") or media_type in _LENIENT_MEDIA_TYPES
    )


def input_from_body(workflow: Workflow, body: bytes, content_type: str | None) -> dict[str, Any]:
    if len(body) > MAX_INPUT_BYTES:
        raise PayloadTooLarge(f"Request body is {len(body)} bytes; the limit is {MAX_INPUT_BYTES}")
    if workflow.content_variable:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsupportedMediaType(
                f"Workflow '{workflow.name}' takes the request body as text: send UTF-8 text"
            ) from None
        return ensure_input_size({workflow.content_variable: text})
    if not _is_json_media_type(content_type):
        raise UnsupportedMediaType(f"Send the input as application/json, not '{content_type}'")
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise MalformedJson(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise MalformedJson(f"The input must be a JSON object, not {type(parsed).__name__}")
    return ensure_input_size(parsed)


def input_from_query(workflow: Workflow, parameters: dict[str, str]) -> dict[str, Any]:
    """For workflows started by GET: query parameters become the input, typed by the input schema."""
    properties = (workflow.input_schema or {}).get("properties", {})
    workflow_input: dict[str, Any] = {}
    for name, raw in parameters.items():
        if name not in RESERVED_QUERY_PARAMETERS:
            workflow_input[name] = _coerce(raw, properties.get(name, {}).get("type"))
    return ensure_input_size(workflow_input)


def _coerce(raw: str, declared_type: Any) -> Any:
    """A query string is text; read it as the schema's scalar type where it cleanly is one."""
    types = declared_type if isinstance(declared_type, list) else [declared_type]
    if "integer" in types and raw.lstrip("-").isdigit():
        return int(raw)
    if "number" in types:
        try:
            return float(raw)
        except ValueError:
            pass
    if "boolean" in types and raw in ("true", "false"):
        return raw == "true"
    return raw


def ensure_input_size(workflow_input: dict[str, Any]) -> dict[str, Any]:
    try:
        size = len(serialize_input(workflow_input).encode())
    except UnicodeEncodeError:  # JSON may escape half a UTF-16 pair ("\ud800"): not text Step Functions takes
        raise MalformedJson("The input holds an unpaired surrogate escape (such as \\ud800)") from None
    if size > MAX_INPUT_BYTES:
        raise PayloadTooLarge(f"The workflow input is {size} bytes as JSON; the limit is {MAX_INPUT_BYTES}")
    return workflow_input


def serialize_input(workflow_input: dict[str, Any]) -> str:
    return json.dumps(workflow_input, separators=(",", ":"), ensure_ascii=False)


def validate_input(workflow: Workflow, workflow_input: dict[str, Any]) -> None:
    if workflow.input_schema is None:
        return
    validator = workflow.input_validator
    problems = [
        FieldProblem(field=_pointer(error.absolute_path), message=error.message)
        for error in sorted(validator.iter_errors(workflow_input), key=lambda e: list(map(str, e.path)))
    ]
    if problems:
        raise InputValidationFailed(
            f"The input does not match workflow '{workflow.name}': {len(problems)} problem(s)",
            errors=problems,
        )


def _pointer(path: Any) -> str:
    return "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in path)
