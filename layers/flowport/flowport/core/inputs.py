"""Turning a request into a workflow input: body or query parameters, content variable, schema, size."""

from __future__ import annotations

import contextlib
import json
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from flowport.core.errors import (
    InputValidationFailed,
    MalformedForm,
    MalformedJson,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from flowport.core.models import FieldProblem
from flowport.core.registry import Workflow

# Step Functions refuses execution inputs over 256 KiB (UTF-8 bytes of the JSON text).
MAX_INPUT_BYTES = 256 * 1024
# Query parameters that steer the start and are never part of the input.
RESERVED_QUERY_PARAMETERS = frozenset({"version", "correlationId", "priority"})


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


# Python writes a float below this in plain digits (1e16 and up get an exponent: "1e+16"), so such a
# whole float's integer is never longer than the float's own text, and the size checked still holds.
_DIGITS_BELOW = 1e16


def whole_number_as_integer(number: float) -> int | float:
    """A whole-number float as the integer it is: `1.0` is 1. JSON Schema already counts 1.0 as an
    integer, so without this `delaySeconds: 1.0` passes the schema and then fails in a Wait state, and
    `1` and `1.0` would fingerprint as two requests. Done once, as the input is read, so that validation,
    the idempotency fingerprint, search keys and Step Functions all see the same value.

    Floats from 1e16 up stay floats: converting 1e300 would spell out 301 digits for a value no client
    wrote digit by digit (a float that large is not exact), and could grow the input past its limit."""
    if number.is_integer() and abs(number) < _DIGITS_BELOW:
        return int(number)
    return number


def _json_float(text: str) -> int | float:
    number = float(text)
    if not math.isfinite(number):  # 1e400: JSON has no Infinity, and Step Functions would refuse it
        raise ValueError(f"the number {text[:40]} is beyond the range of a double (about 1.8e308)")
    return whole_number_as_integer(number)


# A JSON number (RFC 8259 §6): what a field's text must be to be read as one. Python's float() also takes
# "nan", "inf", "1_000" and surrounding spaces, none of which JSON has (NaN would reach Step Functions).
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


FORM = "application/x-www-form-urlencoded"
# Bodies of this type are read as JSON too: some clients send JSON as text.
_LENIENT_MEDIA_TYPES = frozenset({"text/plain"})


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json_media_type(content_type: str | None) -> bool:
    if not content_type:
        return True
    media_type = _media_type(content_type)
    return (
        media_type == "application/json" or media_type.endswith("+json") or media_type in _LENIENT_MEDIA_TYPES
    )


def _is_json_labelled_as_a_form(body: bytes) -> bool:
    """`curl -d '{...}'` labels its JSON as a form. A form's first field never starts with `{` or `[`
    (an HTML form sends name=value), and an input is a JSON object: such a body is JSON."""
    return body.lstrip()[:1] in (b"{", b"[")


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
    if _media_type(content_type) == FORM and not _is_json_labelled_as_a_form(body):
        return input_from_fields(workflow, _form_fields(body))
    if not _is_json_media_type(content_type) and _media_type(content_type) != FORM:
        raise UnsupportedMediaType(
            f"Send the input as application/json (or an {FORM} form), not '{content_type}'"
        )
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body, parse_constant=_reject_constant, parse_float=_json_float)
    except (ValueError, RecursionError) as exc:
        raise MalformedJson(f"Request body is not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise MalformedJson(f"The input must be a JSON object, not {type(parsed).__name__}")
    return ensure_input_size(parsed)


def _form_fields(body: bytes) -> dict[str, str]:
    """An HTML form's fields (application/x-www-form-urlencoded): each name once, with a value."""
    try:
        # Browsers percent-encode UTF-8; curl -d 'subject=café' sends it raw: both must be UTF-8.
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(body.strip()),
            encoding="utf-8",
            errors="strict",
        )
    except UnicodeDecodeError:
        raise MalformedForm("The form is not UTF-8 (as sent, or once percent-decoded)") from None
    except ValueError as error:
        # parse_qsl names the field: "bad query field: 'tier'"
        field = str(error).partition(": ")[2]
        raise MalformedForm(f"The form's field {field} is not a name=value field") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in fields:
            raise MalformedForm(f"The form's field '{name}' is repeated: send it once")
        fields[name] = value
    return fields


def input_from_query(workflow: Workflow, parameters: dict[str, str]) -> dict[str, Any]:
    """For workflows started by GET: query parameters become the input, typed by the input schema."""
    return input_from_fields(
        workflow, {name: raw for name, raw in parameters.items() if name not in RESERVED_QUERY_PARAMETERS}
    )


def input_from_fields(workflow: Workflow, fields: Mapping[str, str]) -> dict[str, Any]:
    """Text fields (a query string's or a form's) as the input, each typed by the input schema."""
    properties = (workflow.input_schema or {}).get("properties", {})
    return ensure_input_size(
        {name: _coerce(raw, properties.get(name, {}).get("type")) for name, raw in fields.items()}
    )


def _coerce(raw: str, declared_type: Any) -> Any:
    """A query string is text; read it as the schema's scalar type where it cleanly is one. Where the
    schema takes a string too, the text is that string as sent: `007` stays "007", not 7."""
    types = declared_type if isinstance(declared_type, list) else [declared_type]
    if "string" in types:
        return raw
    if "integer" in types and raw.lstrip("-").isdigit():
        try:
            return int(raw)
        except ValueError:  # more digits than Python reads (4300): left as text, which the schema refuses
            return raw
    # As in a JSON body: "7.0" is the integer 7, and "7.5" a number the schema refuses for an integer.
    if ("number" in types or "integer" in types) and _JSON_NUMBER.fullmatch(raw):
        with contextlib.suppress(ValueError):  # out of range: left as text, which the schema refuses
            return _json_float(raw)
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
        FieldProblem(field=_pointer([*error.absolute_path, *_missing(error)]), message=_message(error))
        for error in sorted(validator.iter_errors(workflow_input), key=lambda e: list(map(str, e.path)))
    ]
    if problems:
        raise InputValidationFailed(
            f"The input does not match workflow '{workflow.name}': {len(problems)} problem(s)",
            errors=problems,
        )


# jsonschema's messages start with the failing value; a document of 200 KiB must not come back whole.
MAX_MESSAGE_CHARACTERS = 200


def _message(error: Any) -> str:
    """jsonschema's message, shortened when the value makes it long, and the failing schema's own
    `description` after it: "'' does not match '\\S'" alone says little to the one who sent it."""
    message = str(error.message)
    if len(message) > MAX_MESSAGE_CHARACTERS:
        value = repr(error.instance)
        shown = f"{value[:40]}… ({len(value)} characters)"
        message = (
            message.replace(value, shown, 1) if value in message else message[:MAX_MESSAGE_CHARACTERS] + "…"
        )
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    return f"{message}: {description}" if isinstance(description, str) and description else message


def _missing(error: Any) -> list[str]:
    """A missing required property is pointed at where it belongs (/subject), not at the object that lacks
    it, so that a form shows the refusal next to that field."""
    if error.validator != "required" or not isinstance(error.validator_value, list):
        return []
    return [name for name in error.validator_value if error.message == f"{name!r} is a required property"][:1]


def _pointer(path: Any) -> str:
    return "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in path)
