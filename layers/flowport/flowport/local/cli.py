"""The `flowport` command. `flowport dev` runs the whole API locally over an embedded AWS emulator;
`flowport workflows|start|status|watch|cancel|retry|rerun|list|history` call an API (flowport.client.cli);
`flowport principals|keys|passwords` manage who may call it, `flowport admin bootstrap` writes a
deployed stack's first admin."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowport.core.registry import Registry
    from flowport.local.template import Stack


def main(argv: list[str] | None = None) -> int:
    from flowport.client import cli as client_cli
    from flowport.local import admin_cli

    parser = argparse.ArgumentParser(
        prog="flowport", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--url",
        default=os.environ.get(admin_cli.URL_VARIABLE, admin_cli.DEFAULT_URL),
        help=f"the API the commands call (default: ${admin_cli.URL_VARIABLE}, else {admin_cli.DEFAULT_URL})",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    dev = commands.add_parser(
        "dev", help="run the API on localhost over an embedded moto (no AWS, no Docker)"
    )
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=3000)
    dev.add_argument("--template", type=Path, default=Path("template.yaml"), help="SAM template to run")
    dev.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="keep the tables and Step Functions' executions here across restarts, saved every second "
        "(executions running at a restart end FAILED, local_restart; default: memory), and the "
        "development admin's key (default: .flowport/dev-admin-key)",
    )
    dev.add_argument(
        "--webhook-clock-scale",
        type=_clock_scale,
        default=1.0,
        help="every wait of the webhook retry schedule times this (0.0001: three days in half a minute; "
        "default: 1, real time)",
    )
    dev.add_argument(
        "--concurrency",
        type=int,
        default=10,
        help="containers each function may run at once, as Lambda's concurrency (default: 10)",
    )
    client_cli.add_commands(commands)
    admin_cli.add_commands(commands)
    arguments = parser.parse_args(argv)
    if arguments.command in client_cli.COMMANDS:
        return client_cli.run(arguments)
    if arguments.command != "dev":
        return admin_cli.run(arguments)
    return run_dev(
        arguments.template,
        arguments.host,
        arguments.port,
        arguments.state_dir,
        arguments.concurrency,
        arguments.webhook_clock_scale,
    )


def _clock_scale(text: str) -> float:
    """A scale the functions' settings take (above 0, at most 1): refused here rather than by every
    function's init."""
    scale = float(text)
    if not 0 < scale <= 1:
        raise argparse.ArgumentTypeError(f"{text}: a scale above 0 and at most 1")
    return scale


DESCRIPTION_CHARACTERS = 60


def columns(rows: Sequence[Sequence[str]], indent: str = "  ", gap: str = "  ") -> list[str]:
    """Rows as aligned columns, each as wide as its widest cell, whatever the cells' widths."""
    widths = [max(len(row[column]) for row in rows) for column in range(max(map(len, rows), default=0))]
    return [
        indent + gap.join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
        for row in rows
    ]


def banner(registry: Registry, stack: Stack) -> list[str]:
    """The workflows (with their limits), the routes and the schedules, as `flowport dev` lists them."""
    from flowport.local.gateway import ANY  # local mode's own: `flowport` without the local extra has none

    workflows = [
        (
            name,
            f"versions {', '.join(map(str, workflow.versions))}",
            "enabled" if workflow.enabled else "disabled",
            f"{workflow.max_concurrency} at once" if workflow.max_concurrency else "no limit",
            _shortened(workflow.description, DESCRIPTION_CHARACTERS),
        )
        for name, workflow in registry.items()
    ]
    routes = sorted(stack.routes.items(), key=lambda item: (item[0].path, item[0].method))
    listed = [(route.method, route.path, f"-> {f.logical_id}") for route, f in routes if route.method != ANY]
    # The template's ANY routes, one per path, only answer 405: one line says so for all of them.
    for function_id in sorted({f.logical_id for route, f in routes if route.method == ANY}):
        listed.append(("*", "other methods of these paths: 405", f"-> {function_id}"))
    schedules = [
        (f"every {schedule.every_seconds} s", f"-> {spec.logical_id}")
        for spec in stack.functions.values()
        for schedule in spec.schedules
    ]
    return ["workflows:", *columns(workflows), "routes:", *columns(listed), "schedules:", *columns(schedules)]


def _shortened(text: str, characters: int) -> str:
    return text if len(text) <= characters else text[: characters - 1].rstrip() + "…"


def run_dev(
    template: Path,
    host: str,
    port: int,
    state_dir: Path | None = None,
    concurrency: int = 10,
    webhook_clock_scale: float = 1.0,
) -> int:
    # Imported here: local mode needs the `local` extra, which deployed functions never import.
    from flowport.core.registry import load_registry
    from flowport.local.cloud import local_gaps, running
    from flowport.local.dev_key import DEFAULT_DIRECTORY, dev_admin_key, dev_webhook_secret
    from flowport.local.server import LocalServer
    from flowport.local.template import build_stack
    from flowport.settings import get_settings

    stack = build_stack(template.resolve())
    with running(stack), _kept(state_dir, stack):
        scale = {"FLOWPORT_WEBHOOK_CLOCK_SCALE": repr(webhook_clock_scale)}
        server = LocalServer(stack, host, port, concurrency=concurrency, environment=scale)
        server.containers.warm(stack.functions.values())
        registry = load_registry(get_settings().workflows_path)
        key, key_file = dev_admin_key(state_dir or DEFAULT_DIRECTORY)
        print(f"flowport local API on {server.url}  (embedded moto; Ctrl-C stops)")
        print(f"dev admin key (every scope; also in {key_file}): {key}")
        print(f"console: {server.url}/console  (sign in with that key)")
        _, secret_file = dev_webhook_secret(state_dir or DEFAULT_DIRECTORY, key)
        print(
            f"webhooks: callbacks may go to http://127.0.0.1 (local mode only), signed with the secret in "
            f"{secret_file}; retry waits x{webhook_clock_scale:g}"
        )
        print("\n".join(banner(registry, stack)))
        for gap in local_gaps(stack):
            print(f"warning: {gap}")
        sys.stdout.flush()

        def stop(_signal: int, _frame: FrameType | None) -> None:
            raise KeyboardInterrupt

        # Both installed explicitly: a process started with SIGINT ignored (a background shell, nohup,
        # CI) inherits that, and Python then installs no KeyboardInterrupt handler of its own.
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            server.serve_forever()  # returns once waitress has taken the KeyboardInterrupt
        except KeyboardInterrupt:
            pass
        finally:
            print("stopping")
            server.close()
    return 0


@contextmanager
def _kept(state_dir: Path | None, stack: Stack) -> Iterator[None]:
    """The state kept in `state_dir` while the block runs (saved at its end too); none without one."""
    if state_dir is None:
        yield
        return
    from flowport.local import executions_state, state

    with state.kept(state_dir, stack) as restored:
        print(f"restored {restored.items} items from {state_dir}")
        if restored.ended:
            print(
                f"{restored.ended} executions that ran when the server last stopped ended FAILED "
                f"({executions_state.LOCAL_RESTART}): local mode does not resume executions"
            )
        yield


if __name__ == "__main__":
    sys.exit(main())
