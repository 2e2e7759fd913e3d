"""The `flowport` command. `flowport dev` runs the whole API locally over an embedded AWS emulator."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flowport", description=__doc__)
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
        help="keep the tables' data here across restarts (default: memory)",
    )
    arguments = parser.parse_args(argv)
    return run_dev(arguments.template, arguments.host, arguments.port, arguments.state_dir)


def run_dev(template: Path, host: str, port: int, state_dir: Path | None = None) -> int:
    # Imported here: local mode needs the `local` extra, which deployed functions never import.
    from flowport.core.registry import load_registry
    from flowport.local import state
    from flowport.local.cloud import local_gaps, running
    from flowport.local.gateway import ANY
    from flowport.local.server import LocalServer
    from flowport.local.template import build_stack
    from flowport.settings import get_settings

    stack = build_stack(template.resolve())
    with running(stack):
        if state_dir is not None:
            print(f"restored {state.load(state_dir, stack)} items from {state_dir}")
        server = LocalServer(stack, host, port)
        registry = load_registry(get_settings().workflows_path)
        print(f"flowport local API on {server.url}  (embedded moto; Ctrl-C stops)")
        print("workflows:")
        for name, workflow in registry.items():
            enabled = "enabled" if workflow.enabled else "disabled"
            print(f"  {name:<20} versions {list(workflow.versions)}  {enabled:<9}{workflow.description[:60]}")
        print("routes:")
        routes = sorted(stack.routes.items(), key=lambda item: (item[0].path, item[0].method))
        for route, function in routes:
            if route.method != ANY:
                print(f"  {route.method:<7}{route.path:<40}-> {function.logical_id}")
        # The template's ANY routes, one per path, only answer 405: one line says so for all of them.
        for function_id in sorted({function.logical_id for route, function in routes if route.method == ANY}):
            print(f"  {'other methods of these paths: 405':<47}-> {function_id}")
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
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopping")
        finally:
            server.close()
            if state_dir is not None:
                print(f"saved {state.save(state_dir, stack)} items to {state_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
