"""`flowport workflows|start|status|watch|cancel|retry|rerun|list|history`: the API from a shell, through
flowport.client, with live progress from the event stream (`watch`, `start --wait`).

Every command takes `--json` (the API's documents, one per line, for scripts); without it, tables and a
progress bar. The credential is FLOWPORT_API_KEY; against the local server without one, the development
admin's key that `flowport dev` wrote (.flowport/dev-admin-key).

Exit codes (`watch`, `start --wait`): 0 the execution COMPLETED, 3 FAILED, 4 TIMED_OUT, 5 CANCELLED, 6 it
had not ended by `--timeout`. Every command: 1 the API refused the request or could not be reached (the
problem on stderr), 2 a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import httpx

from flowport.client.client import DEFAULT_URL, FlowportClient
from flowport.client.errors import FlowportApiError, WaitTimedOut
from flowport.client.models import Execution, FinalEvent, NodeEvent, ProgressEvent

KEY_VARIABLE = "FLOWPORT_API_KEY"
DEV_KEY_FILE = Path(".flowport/dev-admin-key")
EXIT_ERROR = 1
EXIT_CODES = {"COMPLETED": 0, "FAILED": 3, "TIMED_OUT": 4, "CANCELLED": 5}
EXIT_WAIT_TIMED_OUT = 6
COMMANDS = ("workflows", "start", "status", "watch", "cancel", "retry", "rerun", "list", "history")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text)
        parser.add_argument("--json", action="store_true", help="print the API's JSON, one document a line")
        return parser

    command("workflows", "list the workflows the key may see")
    start = command("start", "start an execution; prints its id (with --wait, follows it to its end)")
    start.add_argument("workflow")
    start.add_argument("--input", help="a JSON object: a file, or - for stdin")
    start.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an input field (repeatable, over --input); VALUE is read as JSON if it is JSON (42, true, "
        '"42"), else as text',
    )
    start.add_argument("--version", type=int)
    start.add_argument("--correlation-id")
    start.add_argument("--priority", type=int)
    start.add_argument("--key", help="an idempotency key (then the start is safe to repeat)")
    start.add_argument("--on-conflict", choices=("RETURN_EXISTING", "FAIL", "FAIL_ON_RUNNING"))
    start.add_argument("--wait", action="store_true", help="follow it to its end with live progress")
    start.add_argument("--timeout", type=float, help="with --wait: give up after this many seconds")
    command("status", "an execution's status document").add_argument("execution_id")
    watch = command("watch", "follow an execution to its end with live progress")
    watch.add_argument("execution_id")
    watch.add_argument("--timeout", type=float, help="give up after this many seconds")
    command("cancel", "cancel an execution").add_argument("execution_id")
    retry = command("retry", "run a failed, timed-out or cancelled execution again from where it stopped")
    retry.add_argument("execution_id")
    retry.add_argument("--key", help="an idempotency key")
    rerun = command("rerun", "start the same request again as a new execution")
    rerun.add_argument("execution_id")
    rerun.add_argument("--version", help="a version, or latest (default: the one it ran)")
    rerun.add_argument("--key", help="an idempotency key")
    search = command("list", "search executions, newest first")
    search.add_argument("--workflow")
    search.add_argument(
        "--status", choices=("QUEUED", "RUNNING", "COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED")
    )
    search.add_argument("--correlation-id")
    search.add_argument("--started-by")
    search.add_argument("--since", help="an ISO 8601 date or date-time with an offset")
    search.add_argument("--until")
    search.add_argument(
        "--input", action="append", default=[], metavar="FIELD=VALUE", help="a searchable field"
    )
    search.add_argument("--limit", type=int, default=20, help="at most this many (default 20)")
    history = command("history", "what each state of an execution did")
    history.add_argument("execution_id")


def run(arguments: argparse.Namespace) -> int:
    try:
        with FlowportClient(arguments.url, _api_key(arguments.url)) as client:
            return _COMMANDS[arguments.command](client, arguments)
    except FlowportApiError as error:
        print(f"error: {error}", file=sys.stderr)
    except httpx.TransportError as error:
        print(f"error: cannot reach {arguments.url}: {error}", file=sys.stderr)
    except ValueError as error:  # --input and --set that are no JSON object
        print(f"error: {error}", file=sys.stderr)
    return EXIT_ERROR


def _api_key(url: str) -> str | None:
    key = os.environ.get(KEY_VARIABLE)
    if not key and url.rstrip("/") == DEFAULT_URL and DEV_KEY_FILE.is_file():
        return DEV_KEY_FILE.read_text().strip()
    return key


# The commands


def _workflows(client: FlowportClient, arguments: argparse.Namespace) -> int:
    workflows = client.workflows()
    if arguments.json:
        return _lines(workflows)
    rows = [
        (
            w["name"],
            ",".join(map(str, w["versions"])),
            str(w.get("maxConcurrency") or "-"),
            "yes" if w["enabled"] else "no",
            w["description"][:60],
        )
        for w in workflows
    ]
    _table(("workflow", "versions", "limit", "enabled", "description"), rows)
    return 0


def _start(client: FlowportClient, arguments: argparse.Namespace) -> int:
    started = client.start(
        arguments.workflow,
        _input_of(arguments.input, arguments.set),
        version=arguments.version,
        correlation_id=arguments.correlation_id,
        priority=arguments.priority,
        idempotency_key=arguments.key,
        on_conflict=arguments.on_conflict or "RETURN_EXISTING",
    )
    if not arguments.wait:
        if arguments.json:
            return _lines([started.raw])
        print(started.execution_id)
        replayed = " (replayed: this key's execution)" if started.replayed else ""
        _note(f"{started.workflow} v{started.version}: {started.status}{replayed}")
        return 0
    if not arguments.json:
        _note(f"started {started.execution_id} ({started.workflow} v{started.version})")
    return _follow(client, started.execution_id, arguments)


def _status(client: FlowportClient, arguments: argparse.Namespace) -> int:
    execution = client.get(arguments.execution_id)
    if arguments.json:
        return _lines([execution.raw])
    _describe(execution)
    return 0


def _watch(client: FlowportClient, arguments: argparse.Namespace) -> int:
    return _follow(client, arguments.execution_id, arguments)


def _cancel(client: FlowportClient, arguments: argparse.Namespace) -> int:
    answer = client.cancel(arguments.execution_id)
    if arguments.json:
        return _lines([answer])
    print(f"{answer['executionId']}: {answer['previousStatus']} -> {answer['status']}")
    return 0


def _retry(client: FlowportClient, arguments: argparse.Namespace) -> int:
    return _answered(client.retry(arguments.execution_id, idempotency_key=arguments.key), arguments)


def _rerun(client: FlowportClient, arguments: argparse.Namespace) -> int:
    version = arguments.version if arguments.version in (None, "latest") else int(arguments.version)
    return _answered(
        client.rerun(arguments.execution_id, version=version, idempotency_key=arguments.key), arguments
    )


def _list(client: FlowportClient, arguments: argparse.Namespace) -> int:
    filters = {
        name: value
        for name, value in (
            ("workflow", arguments.workflow),
            ("status", arguments.status),
            ("correlationId", arguments.correlation_id),
            ("startedBy", arguments.started_by),
            ("since", arguments.since),
            ("until", arguments.until),
        )
        if value is not None
    }
    filters.update({f"input.{field}": value for field, value in map(_pair, arguments.input)})
    found = _first(client.search(page_size=min(arguments.limit, 100), **filters), arguments.limit)
    if arguments.json:
        return _lines(execution.raw for execution in found)
    rows = [
        (e.execution_id, e.workflow, str(e.version), e.status, e.created_at or "", e.correlation_id or "")
        for e in found
    ]
    _table(("execution", "workflow", "version", "status", "created", "correlation"), rows)
    return 0


def _history(client: FlowportClient, arguments: argparse.Namespace) -> int:
    runs = list(client.history(arguments.execution_id))
    if arguments.json:
        return _lines(run.raw for run in runs)
    rows = [
        (
            r.name,
            r.type,
            r.status,
            r.started_at or "",
            r.ended_at or "",
            str(r.attempts),
            (r.error or {}).get("code", ""),
        )
        for r in runs
    ]
    _table(("state", "type", "status", "started", "ended", "attempts", "error"), rows)
    return 0


_COMMANDS = {
    "workflows": _workflows,
    "start": _start,
    "status": _status,
    "watch": _watch,
    "cancel": _cancel,
    "retry": _retry,
    "rerun": _rerun,
    "list": _list,
    "history": _history,
}


# Following an execution


def _follow(client: FlowportClient, execution_id: str, arguments: argparse.Namespace) -> int:
    try:
        if arguments.json:
            final = _follow_as_json(client, execution_id, arguments.timeout)
        else:
            final = _follow_live(client, execution_id, arguments.timeout)
    except WaitTimedOut as timed_out:
        print(f"error: {timed_out}", file=sys.stderr)
        return EXIT_WAIT_TIMED_OUT
    return EXIT_CODES.get(final.status, EXIT_ERROR)


def _follow_as_json(client: FlowportClient, execution_id: str, timeout: float | None) -> Execution:
    """Every event as a line `{"event", "id", "data"}`, the last one the final status document."""
    for event in client.events(execution_id, timeout=timeout):
        print(json.dumps({"event": event.kind, "id": event.id, "data": event.data}), flush=True)
        if isinstance(event, FinalEvent):
            return event.execution
    return client.get(execution_id)


def _follow_live(client: FlowportClient, execution_id: str, timeout: float | None) -> Execution:
    """A progress bar (the execution's progress, completed/total nodes, the current node, the time it
    has run) over the event stream, then the output or the error."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        SpinnerColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    console = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[nodes]}"),
        TimeElapsedColumn(),
    )
    final: Execution | None = None
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("starting", total=100, nodes="")
        for event in client.events(execution_id, timeout=timeout):
            if isinstance(event, ProgressEvent):
                shown = event.progress
                nodes = f"{shown.completed_nodes}/{shown.total_nodes} nodes"
                bar.update(
                    task, completed=shown.progress, nodes=nodes, description=shown.current_node or "running"
                )
            elif isinstance(event, NodeEvent) and event.kind == "node_started":
                bar.update(task, description=event.name)
            elif isinstance(event, FinalEvent):
                final = event.execution
                ended = final.progress.progress if final.progress else bar.tasks[task].completed
                bar.update(task, description=final.status, completed=ended)
    final = final or client.get(execution_id)
    _describe(final, console_out=True)
    return final


# Shaping


def _answered(execution: Execution, arguments: argparse.Namespace) -> int:
    if arguments.json:
        return _lines([execution.raw])
    print(execution.execution_id)
    _note(f"{execution.workflow} v{execution.version}: {execution.status}")
    return 0


def _describe(execution: Execution, console_out: bool = False) -> None:
    """The status document for people: what it is, how far it got, and its result."""
    lines = [f"{execution.execution_id}  {execution.workflow} v{execution.version}  {execution.status}"]
    if execution.progress is not None:
        p = execution.progress
        lines.append(
            f"progress {p.progress}% ({p.completed_nodes}/{p.total_nodes} nodes), at {p.current_node or '-'}"
        )
    if execution.status_variables:
        lines.append("variables " + json.dumps(execution.status_variables))
    if execution.error:
        lines.append(f"error {execution.error.get('code')}: {execution.error.get('message', '')}")
    for line in lines:
        print(line, file=sys.stderr if console_out else sys.stdout)
    if execution.output is not None:
        print(json.dumps(execution.output, indent=2))


def _input_of(source: str | None, fields: Sequence[str]) -> dict[str, Any]:
    document: Any = {}
    if source is not None:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        document = json.loads(text or "{}")
        if not isinstance(document, dict):
            raise ValueError("--input must be a JSON object")
    for name, value in map(_pair, fields):
        try:
            document[name] = json.loads(value)
        except ValueError:
            document[name] = value
    return dict(document)


def _pair(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise ValueError(f"expected KEY=VALUE, got {text!r}")
    return name, value


def _first(executions: Iterable[Execution], count: int) -> list[Execution]:
    found: list[Execution] = []
    for execution in executions:
        if len(found) == count:
            break
        found.append(execution)
    return found


def _lines(documents: Iterable[Any]) -> int:
    for document in documents:
        print(json.dumps(document))
    return 0


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*header, box=None, pad_edge=False, show_edge=False)
    # Ids are for copying: never shortened, on a narrow terminal either; piped, no width to fit at all.
    table.columns[0].min_width = max((len(row[0]) for row in rows), default=0)
    for row in rows:
        table.add_row(*row)
    Console(width=None if sys.stdout.isatty() else 1000).print(table)


def _note(text: str) -> None:
    print(text, file=sys.stderr)
