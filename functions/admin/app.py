"""Admin Lambda: the /admin routes (principals, keys, passwords). Apart from the others so that only its
role may write credentials."""

from flowport.startup import init_phase

with init_phase():
    from flowport.api.apps import admin_app
    from flowport.observability import api_handler

    app = admin_app()
    lambda_handler = api_handler(app.resolve)
