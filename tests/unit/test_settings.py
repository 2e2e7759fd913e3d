"""Settings come from FLOWPORT_* variables, typed and checked once."""

from __future__ import annotations

from pathlib import Path

import pytest
from flowport.settings import Settings
from pydantic import ValidationError


def test_each_setting_is_read_from_its_prefixed_variable_and_typed() -> None:
    settings = Settings.from_environment(
        {
            "FLOWPORT_TABLE_NAME": "executions",
            "FLOWPORT_WORKFLOWS_PATH": "/srv/workflows",
            "FLOWPORT_START_LEASE_SECONDS": "45",
            "FLOWPORT_STREAM_MAX_SECONDS": "12.5",
        }
    )

    assert settings.table_name == "executions"
    assert settings.workflows_path == Path("/srv/workflows")
    assert settings.start_lease_seconds == 45
    assert settings.stream_max_seconds == 12.5


def test_names_are_read_in_any_case() -> None:
    assert Settings.from_environment({"flowport_table_name": "lower"}).table_name == "lower"


def test_a_misspelled_setting_is_refused() -> None:
    with pytest.raises(ValidationError, match="table_nam"):
        Settings(table_nam="executions")  # type: ignore[call-arg]


def test_unset_variables_keep_their_defaults_and_other_variables_are_ignored() -> None:
    settings = Settings.from_environment({"TABLE_NAME": "not ours", "FLOWPORT_UNKNOWN": "x"})

    assert settings == Settings()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FLOWPORT_START_LEASE_SECONDS", "soon"),
        ("FLOWPORT_START_LEASE_SECONDS", "0"),
        ("FLOWPORT_STREAM_MAX_SECONDS", "29"),  # over API Gateway's timeout
    ],
)
def test_a_value_that_does_not_fit_its_setting_is_refused(variable: str, value: str) -> None:
    with pytest.raises(ValidationError, match=variable.removeprefix("FLOWPORT_").lower()):
        Settings.from_environment({variable: value})
