"""Use cases, one module per job: start, read, cancel, search, and applying Step Functions status changes."""
