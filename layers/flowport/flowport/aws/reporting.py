"""Status variables from a Lambda step: `report_status(event["executionName"], stage="parsing")`.

The step's state passes `"executionName.$": "$$.Execution.Name"` in its payload. Values are set on the
execution's record (only a record flowport created: an execution started elsewhere is left alone), and
the status API shows the ones the workflow declares. A variable named `progress` (0-100) is the
workflow's own progress figure, which wins over the counted one.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from flowport.aws import clients
from flowport.aws.errors import error_code
from flowport.aws.store import execution_pk, to_dynamo
from flowport.settings import get_settings


def report_status(execution_name: str, **values: Any) -> bool:
    """Set status variables on the execution's record; False if flowport has no record of it."""
    if not values:
        return True
    names = {f"#v{index}": name for index, name in enumerate(values)}
    assignments = ", ".join(
        f"statusVariables.{placeholder} = :v{index}" for index, placeholder in enumerate(names)
    )
    try:
        clients.dynamodb().update_item(
            TableName=get_settings().table_name,
            Key=execution_pk(execution_name),
            UpdateExpression=f"SET {assignments}",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                f":v{index}": to_dynamo(value) for index, value in enumerate(values.values())
            },
        )
    except ClientError as error:
        if error_code(error) == "ConditionalCheckFailedException":
            return False
        raise
    return True
