"""The query rule every route applies: only the names it takes, each once."""

from __future__ import annotations

import pytest
from aws_lambda_powertools.event_handler.api_gateway import Route
from flowport.api.apps import ALL_APPS
from flowport.api.query import is_marked
from flowport.core import query


def test_declared_names_given_once_pass():
    assert query.refusals({"limit": ["5"], "nextToken": ["t"]}, {"limit", "nextToken", "include"}) == []


def test_an_unknown_name_is_refused_naming_what_the_route_takes():
    [problem] = query.refusals({"includ": ["io"]}, {"include", "limit"})
    assert (problem.field, problem.message) == (
        "/query/includ",
        "unknown parameter; this route takes include, limit",
    )
    [none] = query.refusals({"x": ["1"]}, set())
    assert none.message == "unknown parameter; this route takes none"


def test_a_name_given_twice_is_refused_as_repeated_even_where_any_name_is_taken():
    [problem] = query.refusals({"subject": ["a", "b"], "tier": ["pro"]}, {"version"}, more=query.ANY_NAME)
    assert (problem.field, problem.message) == ("/query/subject", "repeated (2 values): send it once")


def test_a_prefix_admits_its_names_only():
    problems = query.refusals({"input.customerId": ["42"], "inputs.x": ["1"]}, {"workflow"}, more="input.")
    assert [(p.field, p.message) for p in problems] == [
        ("/query/inputs.x", "unknown parameter; this route takes workflow, input.<field>")
    ]


def test_the_error_names_each_parameter_and_why():
    problems = query.refusals({"a": ["1", "2"], "b": ["1"]}, {"a"})
    error = query.refused(problems)
    assert (error.status, error.code) == (400, "invalid_parameter")
    assert error.detail == "Query parameter(s) refused: a (repeated), b (unknown)"


@pytest.mark.parametrize("app", ALL_APPS, ids=lambda app: app.__name__)
def test_every_route_says_which_query_it_takes(app):
    resolver = app()
    routes: list[Route] = resolver._static_routes + resolver._dynamic_routes
    assert routes
    assert [route.path for route in routes if not is_marked(route.func)] == []
