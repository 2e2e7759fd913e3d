"""Adapters to AWS services. The only modules that call boto3."""
