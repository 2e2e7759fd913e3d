"""A function's init runs without garbage collection and leaves what it made frozen (flowport.startup)."""

from __future__ import annotations

import ast
import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flowport.local.template import Stack
from flowport.startup import init_phase

ROOT = Path(__file__).resolve().parents[2]
# The functions whose init loads the stack (boto3, pydantic, Powertools, flowport).
STACK_FUNCTIONS = (
    "StartFunction",
    "StatusFunction",
    "StreamFunction",
    "CancelFunction",
    "ConductorFunction",
    "SyncFunction",
)


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generation of every collection that starts on the test's thread while it runs; gc as it was
    afterwards. Another thread's explicit gc.collect() (a leftover of an earlier test in this worker) is
    not the init's: a disabled collector runs no collection of its own on any thread."""
    started: list[int] = []
    test_thread = threading.get_ident()

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "start" and threading.get_ident() == test_thread:
            started.append(info["generation"])

    enabled = gc.isenabled()
    gc.callbacks.append(record)
    yield started
    gc.callbacks.remove(record)
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_no_collection_runs_during_init_and_what_it_made_is_frozen(collections: list[int]) -> None:
    gc.enable()
    frozen_before = gc.get_freeze_count()

    with init_phase():
        made = [_Cycle() for _ in range(50_000)]  # enough for many young collections
        assert not gc.isenabled()

    assert collections == []
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen_before + len(made)


def test_init_leaves_a_disabled_collector_disabled(collections: list[int]) -> None:
    gc.disable()

    with init_phase():
        pass

    assert not gc.isenabled()


def test_the_collector_comes_back_when_init_fails(collections: list[int]) -> None:
    gc.enable()

    with pytest.raises(RuntimeError), init_phase():
        raise RuntimeError("an import failed")

    assert gc.isenabled()


def _top_level(source: Path) -> list[ast.stmt]:
    body = ast.parse(source.read_text()).body
    return [
        node for node in body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]


@pytest.mark.parametrize("function", STACK_FUNCTIONS)
def test_every_stack_function_imports_everything_within_init_phase(stack: Stack, function: str) -> None:
    spec = stack.functions[function]
    statements = _top_level(spec.code_uri / "app.py")
    before = []
    for statement in statements:
        if isinstance(statement, ast.With):
            break
        before.append(statement)
    else:
        pytest.fail(f"{function}: no `with init_phase():`")

    # Before it, only typing and init_phase itself: anything else would load with the collector on.
    modules = {node.module for node in before if isinstance(node, ast.ImportFrom)}
    assert modules <= {"typing", "flowport.startup"}, function
    assert all(isinstance(node, ast.ImportFrom) for node in before), function
    assert ast.unparse(statement.items[0].context_expr) == "init_phase()"
    after = statements[statements.index(statement) + 1 :]
    assert not any(isinstance(node, ast.Import | ast.ImportFrom) for node in after), function
