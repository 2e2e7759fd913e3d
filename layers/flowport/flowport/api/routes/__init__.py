"""Routers, one module per Lambda function's routes."""
