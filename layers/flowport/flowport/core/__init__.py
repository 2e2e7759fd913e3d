"""The rules of flowport as plain Python: models, errors and the pure functions every use case applies.

Nothing here calls AWS or knows of Lambda or HTTP: the use cases (flowport.usecases) reach the outside
only through the ports of flowport.core.ports, which the adapters (flowport.aws) implement.
"""
