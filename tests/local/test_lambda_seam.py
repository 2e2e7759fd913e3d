"""The seam between moto's Lambda and this repo's handlers. If a moto upgrade breaks it, this fails first."""

from __future__ import annotations

import inspect
import json

import boto3
from flowport.local import lambda_seam
from flowport.local.cloud import LocalCloud
from moto.awslambda.models import LambdaFunction


def test_moto_still_invokes_functions_through_the_method_we_replace():
    assert "_invoke_lambda" in inspect.getsource(LambdaFunction.invoke)
    assert list(inspect.signature(lambda_seam._original).parameters) == ["self", "event"]


def test_a_function_runs_in_process_and_returns_its_result(cloud: LocalCloud):
    assert lambda_seam.is_installed()
    function = cloud.stack.functions["ParseDocumentFunction"]
    response = boto3.client("lambda").invoke(
        FunctionName=function.name, Payload=json.dumps({"document": "# Title\n\nSome words here."})
    )
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read())["title"] == "Title"


def test_a_raised_exception_is_a_function_error_named_after_its_class(cloud: LocalCloud):
    function = cloud.stack.functions["ParseDocumentFunction"]
    response = boto3.client("lambda").invoke(FunctionName=function.name, Payload=json.dumps({"document": ""}))
    assert response["FunctionError"] == "Handled"
    assert json.loads(response["Payload"].read())["errorType"] == "InvalidDocument"
