"""Stream Lambda (read-only): GET /executions/{executionId}/events, Server-Sent Events.

Apart from the status function because a response may wait up to 25 s for news: its longer timeout and
its concurrency should not be the status route's.
"""

from flowport.startup import init_phase

with init_phase():
    from flowport.api.apps import stream_app
    from flowport.observability import api_handler

    app = stream_app()
    lambda_handler = api_handler(app.resolve)
