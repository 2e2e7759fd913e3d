"""Settings come from FLOWPORT_* variables, typed and checked once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from flowport.settings import Settings, SettingsError
from pydantic import ValidationError

REQUIRED = {
    "FLOWPORT_TABLE_NAME": "executions",
    "FLOWPORT_STATE_MACHINE_ARN_PREFIX": "arn:aws:states:eu-west-1:210987654321:stateMachine:prod-",
}


def test_each_setting_is_read_from_its_prefixed_variable_and_typed() -> None:
    settings = Settings.from_environment(
        {
            **REQUIRED,
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
    environ = {**REQUIRED, "flowport_table_name": "lower"}
    del environ["FLOWPORT_TABLE_NAME"]
    assert Settings.from_environment(environ).table_name == "lower"


def test_a_misspelled_setting_is_refused() -> None:
    with pytest.raises(ValidationError, match="table_nam"):
        Settings(table_nam="executions")  # type: ignore[call-arg]


def test_unset_variables_keep_their_defaults_and_other_variables_are_ignored() -> None:
    settings = Settings.from_environment({**REQUIRED, "TABLE_NAME": "not ours", "FLOWPORT_UNKNOWN": "x"})

    assert settings == Settings.from_environment(REQUIRED)
    assert settings.start_lease_seconds == 30


def test_a_deployed_function_without_its_table_or_state_machines_fails_naming_them() -> None:
    """No fallback to a made-up table or ARN: the first use says what the function's template lacks."""
    with pytest.raises(SettingsError) as missing:
        Settings.from_environment({"FLOWPORT_STREAM_POLL_SECONDS": "2"})
    assert "FLOWPORT_TABLE_NAME: not set" in str(missing.value)
    assert "FLOWPORT_STATE_MACHINE_ARN_PREFIX: not set" in str(missing.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("FLOWPORT_START_LEASE_SECONDS", "soon"),
        ("FLOWPORT_START_LEASE_SECONDS", "0"),
        ("FLOWPORT_STREAM_MAX_SECONDS", "29"),  # over API Gateway's timeout
    ],
)
def test_a_value_that_does_not_fit_its_setting_is_refused(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_environment({**REQUIRED, variable: value})


def test_a_function_without_its_variables_fails_at_init_naming_them(tmp_path: Path) -> None:
    """Lambda runs a function's module at init: that is where a missing variable stops it."""
    root = Path(__file__).resolve().parents[2]
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.upper().startswith("FLOWPORT_") and name != "PYTHONPATH"
    }
    environ["PYTHONPATH"] = os.pathsep.join(
        [str(root / "functions" / "status"), str(root / "layers/flowport")]
    )
    started = subprocess.run(
        [sys.executable, "-c", "import app"], env=environ, capture_output=True, text=True, cwd=tmp_path
    )
    assert started.returncode != 0
    assert "SettingsError" in started.stderr
    assert "FLOWPORT_TABLE_NAME: not set" in started.stderr


def test_tokens_are_signed_with_the_token_key_or_else_the_tables_name() -> None:
    assert Settings.from_environment(REQUIRED).token_secret == b"executions"
    key = "k" * 32
    assert Settings.from_environment({**REQUIRED, "FLOWPORT_TOKEN_KEY": key}).token_secret == key.encode()
    with pytest.raises(SettingsError, match="FLOWPORT_TOKEN_KEY"):
        Settings.from_environment({**REQUIRED, "FLOWPORT_TOKEN_KEY": "short"})
