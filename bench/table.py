"""The results as the Markdown table printed by `make bench` and kept in README.md."""

from __future__ import annotations

from typing import Any


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _mark(value: float, target: float) -> str:
    return "met" if value <= target else "**missed**"


_COLD_START_BASELINES = {
    "_stack_floor": "1. cold start: the libraries alone (stack floor)",
    "_start_without_bytecode": "1. cold start `start`, layers without bytecode (SAM's Python builder)",
}


def _cold_start_rows(figures: dict[str, Any]) -> list[str]:
    """One row per function and baseline; the targets apply to the API functions, both at once."""
    targets = figures.get("_targets", {})
    api_functions = targets.get("functions", [])
    rows = []
    for name, figure in sorted(figures.items()):
        if name.startswith("_") and name not in _COLD_START_BASELINES:
            continue
        measured = (
            f"{figure['import_ms']} ms = {figure['ratio_vs_boto3']}x boto3 "
            f"= {figure['ratio_vs_stack_floor']}x floor"
        )
        baseline, mark = f"boto3 {figure['boto3_ms']} ms", ""
        if name in api_functions:
            boto3_target, floor_target = targets["ratio_vs_boto3"], targets["ratio_vs_stack_floor"]
            baseline += f"; <= {boto3_target}x boto3, <= {floor_target}x floor"
            met = figure["ratio_vs_boto3"] <= boto3_target and figure["ratio_vs_stack_floor"] <= floor_target
            mark = "met" if met else "**missed**"
        rows.append(
            _row(_COLD_START_BASELINES.get(name, f"1. cold start `{name}`"), measured, baseline, mark)
        )
    return rows


def _keyed_start_rows(local: dict[str, Any]) -> list[str]:
    targets = local["_targets"]
    memory, memory_target = (
        local["memory_mb_per_1000_keyed_starts"],
        targets["memory_mb_per_1000_keyed_starts"],
    )
    slowdown, slowdown_target = local["keyed_start_last_over_tenth"], targets["keyed_start_last_over_tenth"]
    return [
        _row(
            "4. local server memory per 1000 keyed starts",
            f"{memory} MB ({local['keyed_starts']} starts)",
            f"< {memory_target} MB",
            "met" if memory < memory_target else "**missed**",
        ),
        _row(
            "4. local server keyed start, last vs tenth",
            f"{local['keyed_start_ms_last']} ms vs {local['keyed_start_ms_tenth']} ms = {slowdown}x",
            f"<= {slowdown_target}x",
            _mark(slowdown, slowdown_target),
        ),
    ]


def _webhook_rows(figures: dict[str, Any] | None) -> list[str]:
    """Figure 9, in a run since completion webhooks exist (issue 17)."""
    if figures is None:
        return []
    calls, target = figures["calls_per_delivery"], figures["_target_calls"]
    money = figures["cost_per_million_deliveries_usd"]
    return [
        _row(
            "9. AWS calls a callback adds, a delivery by its first attempt",
            f"{calls}: {', '.join(figures['_calls'])}",
            f"<= {target}",
            _mark(calls, target),
        ),
        _row(
            "9. webhook latency, an execution's end to the receiver (local)",
            f"p50 {figures['end_to_receiver_p50_ms']} ms, max {figures['end_to_receiver_max_ms']} ms "
            f"({figures['_samples']} deliveries)",
            "",
            "",
        ),
        _row("9. cost of 1M webhook deliveries (first attempts)", f"{money['total']} USD", "", ""),
    ]


def render(results: dict[str, Any]) -> str:
    lines = [_row("figure", "measured", "baseline / target", ""), _row("---", "---", "---", "---")]
    lines += _cold_start_rows(results["cold_start"])
    calls = results["aws_calls"]
    for name, count in calls.items():
        if name.startswith("_"):
            continue
        target = calls["_targets"].get(name)
        lines.append(
            _row(
                f"2. AWS calls `{name}`",
                f"{count}: {', '.join(calls['_calls'][name])}",
                f"<= {target}" if target is not None else "",
                _mark(count, target) if target is not None else "",
            )
        )
    latency = results["dispatch_latency"]
    lines.append(
        _row(
            "2. dispatch latency, an end to the next StartExecution (local)",
            f"p50 {latency['p50_ms']} ms, max {latency['max_ms']} ms ({latency['pairs']} pairs)",
            "",
            "",
        )
    )
    lines += _webhook_rows(results.get("webhooks"))
    watchers = results["watchers"]
    lines.append(
        _row(
            f"7. history reads, {watchers['pollers']} pollers + {watchers['streams']} streams on "
            f"{watchers['executions']} running executions, {watchers['seconds']} s",
            f"{watchers['history_calls_per_execution_second']} GetExecutionHistory / execution-second "
            f"({watchers['history_calls']} for {watchers['status_reads']} status reads and "
            f"{watchers['stream_looks']} stream looks)",
            f"<= {watchers['_target']}",
            _mark(watchers["history_calls_per_execution_second"], watchers["_target"]),
        )
    )
    for route, figure in results["handler_overhead"].items():
        if route.startswith("_"):
            continue
        lines.append(
            _row(
                f"3. handler `{route}`",
                f"p50 {figure['p50_ms']} ms, p99 {figure['p99_ms']} ms = {figure['ratio_vs_bare_boto3']}x",
                f"bare boto3 p50 {figure['bare_p50_ms']} ms; <= 1.3x",
                _mark(figure["ratio_vs_bare_boto3"], 1.3),
            )
        )
    for operation in ("start", "status"):
        for cell, figure in results["local_server"][operation].items():
            lines.append(
                _row(
                    f"4. local server `{operation}` {cell}",
                    f"{figure['rps']} req/s, p99 {figure['p99_ms']} ms",
                    "",
                    "",
                )
            )
    lines += _keyed_start_rows(results["local_server"])
    sizes = results["package_mb"]
    if "_unavailable" in sizes:
        lines.append(_row("5. package size", sizes["_unavailable"], "", ""))
    else:
        for name, size in sizes.items():
            if not name.startswith("_"):
                lines.append(_row(f"5. package `{name}`", f"{size} MB", "", ""))
        worst = sizes["_largest_function_with_all_layers_mb"]
        lines.append(
            _row(
                "5. largest function + all layers",
                f"{worst} MB",
                f"<= {sizes['_limit_mb']} MB",
                _mark(worst, sizes["_limit_mb"]),
            )
        )
    money = results["cost_per_million_usd"]
    parts = ", ".join(f"{name} {value}" for name, value in money["_flowport_parts"].items())
    lines.append(_row("6. cost / 1M executions, flowport", f"${money['flowport']}", parts, ""))
    lines.append(
        _row(
            "6. cost / 1M executions, direct integration floor",
            f"${money['direct_integration_floor']}",
            "API Gateway + transitions",
            "",
        )
    )
    return "\n".join(lines)
