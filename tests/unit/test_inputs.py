"""Request bodies and query strings becoming workflow inputs."""

import json

import pytest
from flowport.core import inputs
from flowport.core.errors import (
    InputValidationFailed,
    MalformedForm,
    MalformedJson,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from flowport.core.registry import Workflow

PLAIN = Workflow(name="plain", versions=(1,))
TEXT = Workflow(name="text", versions=(1,), contentVariable="document")
TYPED = Workflow(
    name="typed",
    versions=(1,),
    inputSchema={
        "type": "object",
        "required": ["subject", "tier"],
        "properties": {
            "subject": {"type": "string", "minLength": 1},
            "tier": {"enum": ["free", "pro"]},
            "count": {"type": "integer", "minimum": 0},
            "ratio": {"type": "number"},
            "urgent": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
)


def test_json_object_body_is_the_input():
    assert inputs.input_from_body(PLAIN, b'{"a": [1, 2.5]}', "application/json; charset=utf-8") == {
        "a": [1, 2.5]
    }


def test_empty_body_is_an_empty_input():
    assert inputs.input_from_body(PLAIN, b"", None) == {}


@pytest.mark.parametrize("body", [b"{", b"[1]", b"42", b'"text"', b"null", b'{"a": NaN}', b"\xff\xfe"])
def test_malformed_or_non_object_json_is_a_bad_request(body):
    with pytest.raises(MalformedJson):
        inputs.input_from_body(PLAIN, body, "application/json")


def test_a_vendor_json_media_type_is_json():
    assert inputs.input_from_body(PLAIN, b"{}", "application/vnd.flowport+json") == {}


def test_curls_default_form_type_and_text_are_read_as_json():
    assert inputs.input_from_body(PLAIN, b'{"a": 1}', "application/x-www-form-urlencoded") == {"a": 1}
    assert inputs.input_from_body(PLAIN, b' \n{"a": 1}', "application/x-www-form-urlencoded") == {"a": 1}
    assert inputs.input_from_body(PLAIN, b'{"a": 1}', "text/plain; charset=utf-8") == {"a": 1}
    with pytest.raises(MalformedJson):  # a form body that starts as JSON is JSON, and this one is broken
        inputs.input_from_body(PLAIN, b'{"a": 1', "application/x-www-form-urlencoded")


FORM_TYPE = "application/x-www-form-urlencoded; charset=utf-8"


def test_a_form_is_read_as_fields_typed_as_the_schema_says():
    body = b"subject=Login+fails&tier=pro&count=3&ratio=0.5&urgent=true&note=a%26b%3Dc"
    assert inputs.input_from_body(PLAIN, body, FORM_TYPE) == {
        "subject": "Login fails",
        "tier": "pro",
        "count": "3",
        "ratio": "0.5",
        "urgent": "true",
        "note": "a&b=c",
    }
    assert inputs.input_from_body(TYPED, body, FORM_TYPE) == {
        "subject": "Login fails",
        "tier": "pro",
        "count": 3,
        "ratio": 0.5,
        "urgent": True,
        "note": "a&b=c",
    }
    assert inputs.input_from_body(TYPED, b"", FORM_TYPE) == {}
    assert inputs.input_from_body(TYPED, b"subject=", FORM_TYPE) == {"subject": ""}
    assert inputs.input_from_body(PLAIN, "subject=café".encode(), FORM_TYPE) == {"subject": "café"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"subject=a&subject=b", "field 'subject' is repeated: send it once"),
        (b"subject=a&tier", "'tier' is not a name=value field"),
        (b"subject=%FF", "not UTF-8 (as sent, or once percent-decoded)"),
        (b"subject=caf\xe9", "not UTF-8 (as sent, or once percent-decoded)"),
    ],
)
def test_a_malformed_form_is_a_bad_request_saying_why(body: bytes, message: str):
    with pytest.raises(MalformedForm) as refused:
        inputs.input_from_body(PLAIN, body, FORM_TYPE)
    assert message in refused.value.detail
    assert (refused.value.status, refused.value.code) == (400, "malformed_form")


def test_other_media_types_are_refused_for_json_workflows():
    with pytest.raises(UnsupportedMediaType):
        inputs.input_from_body(PLAIN, b"a,b", "text/csv")


def test_content_variable_takes_any_body_as_text():
    assert inputs.input_from_body(TEXT, b'# Title\n{"not": "parsed"}', "text/markdown") == {
        "document": '# Title\n{"not": "parsed"}'
    }


def test_content_variable_refuses_binary():
    with pytest.raises(UnsupportedMediaType):
        inputs.input_from_body(TEXT, b"\xff\xd8\xff", "image/jpeg")


def test_bodies_over_256_kib_are_too_large():
    with pytest.raises(PayloadTooLarge):
        inputs.input_from_body(TEXT, b"a" * (inputs.MAX_INPUT_BYTES + 1), "text/plain")


def test_an_input_that_grows_past_the_limit_when_escaped_is_too_large():
    body = b'"' * (inputs.MAX_INPUT_BYTES // 2 + 10)  # each quote becomes \" in the JSON input
    with pytest.raises(PayloadTooLarge):
        inputs.input_from_body(TEXT, body, "text/plain")


def test_schema_failures_list_every_field():
    with pytest.raises(InputValidationFailed) as raised:
        inputs.validate_input(TYPED, {"subject": "", "tier": "gold", "extra": 1})
    fields = sorted(problem.field for problem in raised.value.extensions["errors"])
    assert fields == ["", "/subject", "/tier"]


def test_a_missing_required_property_is_pointed_at_where_it_belongs():
    with pytest.raises(InputValidationFailed) as raised:
        inputs.validate_input(TYPED, {"count": 1})
    problems = {problem.field: problem.message for problem in raised.value.extensions["errors"]}
    assert problems == {
        "/subject": "'subject' is a required property",
        "/tier": "'tier' is a required property",
    }


def test_query_parameters_are_typed_by_the_schema_and_reserved_ones_dropped():
    query = {"subject": "42", "tier": "pro", "count": "7", "ratio": "0.5", "urgent": "true", "version": "2"}
    assert inputs.input_from_query(TYPED, query) == {
        "subject": "42",
        "tier": "pro",
        "count": 7,
        "ratio": 0.5,
        "urgent": True,
    }


def test_query_values_that_are_not_of_the_declared_type_stay_text_for_the_schema_to_refuse():
    workflow_input = inputs.input_from_query(TYPED, {"subject": "s", "tier": "pro", "count": "seven"})
    with pytest.raises(InputValidationFailed):
        inputs.validate_input(TYPED, workflow_input)


def test_serialized_input_is_compact_utf8_json():
    assert json.loads(inputs.serialize_input({"ü": "ß"})) == {"ü": "ß"}
    assert inputs.serialize_input({"a": 1}) == '{"a":1}'


def test_a_schema_message_is_short_and_says_what_the_schema_describes():
    workflow = Workflow(
        name="doc",
        versions=(1,),
        contentVariable="document",
        inputSchema={
            "properties": {"document": {"type": "string", "pattern": "\\S", "description": "Not blank"}}
        },
    )
    with pytest.raises(InputValidationFailed) as refused:
        inputs.validate_input(workflow, {"document": " " * 100_000})
    [problem] = refused.value.extensions["errors"]
    assert problem.field == "/document"
    assert (
        problem.message
        == f"{repr(' ' * 100_000)[:40]}… (100002 characters) does not match '\\\\S': Not blank"
    )


def test_a_field_that_may_be_a_string_keeps_its_text_as_sent():
    workflow = Workflow(
        name="ids",
        versions=(1,),
        inputSchema={
            "properties": {"id": {"type": ["string", "integer"]}, "n": {"type": ["integer", "null"]}}
        },
    )
    assert inputs.input_from_query(workflow, {"id": "007", "n": "7"}) == {"id": "007", "n": 7}


def test_whole_number_floats_in_a_json_body_are_integers_nested_too():
    body = b'{"delaySeconds": 1.0, "a": [2.0, 2.5, {"b": -0.0, "c": 1e2}], "d": 9007199254740993.0}'
    workflow_input = inputs.input_from_body(PLAIN, body, "application/json")
    assert workflow_input == {"delaySeconds": 1, "a": [2, 2.5, {"b": 0, "c": 100}], "d": 2**53}
    whole = (workflow_input["delaySeconds"], workflow_input["a"][0], workflow_input["d"])
    assert [type(value) for value in whole] == [int, int, int]
    assert type(workflow_input["a"][1]) is float
    # The same request, whichever way its numbers were written.
    assert inputs.serialize_input(workflow_input) == inputs.serialize_input(
        inputs.input_from_body(PLAIN, body.replace(b"1.0,", b"1,").replace(b"1e2", b"100"), None)
    )


@pytest.mark.parametrize("text", ["1e16", "1e300", "-1.7976931348623157e308"])
def test_whole_number_floats_too_large_for_plain_digits_stay_floats(text: str):
    workflow_input = inputs.input_from_body(PLAIN, f'{{"n": {text}}}'.encode(), None)
    assert workflow_input == {"n": float(text)}
    assert type(workflow_input["n"]) is float
    # Never longer as JSON than as sent: the size the body was checked at still holds.
    assert len(inputs.serialize_input(workflow_input)) <= len(f'{{"n":{text}}}') + 1


def test_whole_number_floats_in_a_query_are_integers_as_in_a_json_body():
    query = {"subject": "s", "tier": "pro", "count": "7.0", "ratio": "2.0"}
    workflow_input = inputs.input_from_query(TYPED, query)
    assert workflow_input == {"subject": "s", "tier": "pro", "count": 7, "ratio": 2}
    assert (type(workflow_input["count"]), type(workflow_input["ratio"])) == (int, int)
    inputs.validate_input(TYPED, workflow_input)


@pytest.mark.parametrize("text", ["nan", "inf", "-Infinity", "1_000", " 7", "0x10", "7.", ".5", "9" * 5000])
def test_query_text_that_is_no_json_number_stays_text_for_the_schema_to_refuse(text: str):
    query = {"subject": "s", "tier": "pro", "count": text, "ratio": text}
    workflow_input = inputs.input_from_query(TYPED, query)
    assert (workflow_input["count"], workflow_input["ratio"]) == (text, text)
    with pytest.raises(InputValidationFailed):
        inputs.validate_input(TYPED, workflow_input)


def test_a_json_number_beyond_a_double_is_refused_not_sent_as_infinity():
    with pytest.raises(MalformedJson, match="beyond the range"):
        inputs.input_from_body(PLAIN, b'{"n": -1e400}', "application/json")
