"""Every route's query checked against what the route declares (flowport.core.query's rule).

Routes are marked with `takes_query` (a test checks that every one is): the mark says which names it takes
besides its declared parameters. The check runs as a middleware, after Powertools' own validation, and
again when that validation fails: a repeated parameter reaches Powertools as a list, which it reports as a
value of the wrong type, and "repeated" is the cause to name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from flowport.core import query
from flowport.core.models import FieldProblem

Handler = TypeVar("Handler", bound=Callable[..., Any])
_MORE = "_flowport_more_query"
_UNMARKED = object()


def takes_query(*, more: str | None = None) -> Callable[[Handler], Handler]:
    """Mark a route: besides its declared parameters it takes the names starting with `more`
    (`query.ANY_NAME` for every name); unmarked, a function gets no check (the not-found handler)."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, _MORE, more)
        return handler

    return mark


def is_marked(handler: Callable[..., Any]) -> bool:
    return getattr(handler, _MORE, _UNMARKED) is not _UNMARKED


def refusals(app: APIGatewayRestResolver) -> list[FieldProblem]:
    """The current request's refused query parameters, for the route it matched."""
    route = app.context.get("_route")
    more = getattr(getattr(route, "func", None), _MORE, _UNMARKED)
    if route is None or more is _UNMARKED:
        return []
    event = app.current_event
    # Every value as sent: Powertools' query_string_parameters keeps the last of a repeated name.
    values = event.multi_value_query_string_parameters or {
        name: [value] for name, value in (event.query_string_parameters or {}).items()
    }
    declared = {parameter.alias for parameter in route.dependant.query_params}
    return query.refusals(values, declared, more if isinstance(more, str) else None)


def checked_query(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    problems = refusals(app)
    if problems:
        raise query.refused(problems)
    return next_middleware(app)
