"""flowport: an asynchronous workflow API on AWS Step Functions, DynamoDB and Lambda."""

__version__ = "0.1.0"
