"""Query parameters: a route takes the ones it declares, each once.

A name a route does not take is refused rather than ignored: a misspelt filter or option (`stauts=`,
`includ=io`) would otherwise change nothing, silently. A name given twice is refused too: every parameter
of this API has one value, and API Gateway's event keeps them all where a framework would take the last.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from flowport.core.errors import InvalidParameter
from flowport.core.models import FieldProblem

ANY_NAME = ""
"""As `more`: a route that takes any name besides its own (GET start: each becomes an input field)."""


def refusals(
    values: Mapping[str, Sequence[str]], declared: Collection[str], more: str | None = None
) -> list[FieldProblem]:
    """What is wrong with a request's query, by parameter: `values` holds every value of each name as
    sent, `declared` the route's parameters, `more` the prefix of the other names it takes, if any."""
    problems = []
    for name, given in sorted(values.items()):
        if name not in declared and (more is None or not name.startswith(more)):
            takes = ", ".join(sorted(declared)) or "none"
            if more:
                takes += f", {more}<field>"
            problems.append(
                FieldProblem(field=f"/query/{name}", message=f"unknown parameter; this route takes {takes}")
            )
        elif len(given) > 1:
            problems.append(
                FieldProblem(field=f"/query/{name}", message=f"repeated ({len(given)} values): send it once")
            )
    return problems


def refused(problems: Sequence[FieldProblem], others: Sequence[FieldProblem] = ()) -> InvalidParameter:
    """The 400 naming each refused parameter and why (and any `others` found wrong with the request)."""
    named = [f"{p.field.removeprefix('/query/')} ({p.message.split(' ', 1)[0]})" for p in problems]
    named += [p.field for p in others]
    return InvalidParameter(f"Query parameter(s) refused: {', '.join(named)}", errors=[*problems, *others])
