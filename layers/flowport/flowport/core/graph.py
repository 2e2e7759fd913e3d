"""A workflow's definition (ASL) as a graph of its states and transitions, for `GET .../graph` and the
console that draws it.

Pure: the caller passes the parsed definition. What it shows and why:

- Every state is a node, nested ones too: a Map's item states and each Parallel branch's states name
  the Map or Parallel as their `parent` (and a branch its index), so a drawing can box them in it.
- Edges are the definition's own transitions: Next, each Choice rule and its Default, each Catch. A
  transition into a Map or Parallel goes to that state, as in the definition; where its items start and
  end is said by `start` and `end` on the nested states.
- A Task's `resource` is the service and action it calls (`lambda:invoke`, `dynamodb:updateItem`), never
  an ARN or its parameters: those name the stack's resources, which a reader of the workflow need not see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from flowport.core.models import GraphEdge, GraphNode, WorkflowGraph

LABEL_CHARACTERS = 80
_SERVICE_INTEGRATION = "arn:aws:states:::"
# Choice comparisons written as operators; the others (StringMatches, IsNull, ...) keep their names.
_OPERATORS = {
    "Equals": "==",
    "GreaterThan": ">",
    "GreaterThanEquals": ">=",
    "LessThan": "<",
    "LessThanEquals": "<=",
}
_TYPES = ("String", "Numeric", "Boolean", "Timestamp")


def graph_of(workflow: str, version: int, definition: Mapping[str, Any]) -> WorkflowGraph:
    nodes: list[GraphNode] = []
    edges: list[GraphEdge] = []
    _add_machine(definition, None, None, nodes, edges)
    return WorkflowGraph(
        workflow=workflow,
        version=version,
        start_at=str(definition.get("StartAt", "")),
        nodes=nodes,
        edges=edges,
    )


def _add_machine(
    machine: Mapping[str, Any],
    parent: str | None,
    branch: int | None,
    nodes: list[GraphNode],
    edges: list[GraphEdge],
) -> None:
    states: Mapping[str, Any] = machine.get("States") or {}
    for name, state in states.items():
        nodes.append(_node(name, state, parent, branch, name == machine.get("StartAt")))
        edges.extend(_edges(name, state))
    # Outer states first: a drawing meets a container before the states it holds.
    for name, state in states.items():
        if state.get("Type") == "Parallel":
            for index, sub in enumerate(state.get("Branches") or ()):
                _add_machine(sub, name, index, nodes, edges)
        # ItemProcessor since 2023; Iterator is the older name of the same thing.
        elif isinstance(processor := state.get("ItemProcessor") or state.get("Iterator"), Mapping):
            _add_machine(processor, name, None, nodes, edges)


def _node(
    name: str, state: Mapping[str, Any], parent: str | None, branch: int | None, start: bool
) -> GraphNode:
    kind = str(state.get("Type", ""))
    return GraphNode(
        name=name,
        type=kind,
        parent=parent,
        branch=branch,
        start=start,
        end=bool(state.get("End")) or kind in ("Succeed", "Fail"),
        retries=bool(state.get("Retry")),
        resource=_resource(state.get("Resource")) if kind == "Task" else None,
        comment=state.get("Comment") or None,
    )


def _resource(resource: object) -> str | None:
    if not isinstance(resource, str):
        return None
    if resource.startswith(_SERVICE_INTEGRATION):
        # arn:aws:states:::lambda:invoke.waitForTaskToken -> lambda:invoke
        return resource.removeprefix(_SERVICE_INTEGRATION).split(".")[0]
    parts = resource.split(":")
    # A bare function or activity ARN: arn:aws:lambda:..., arn:aws:states:...:activity:...
    return parts[2] if len(parts) > 2 and parts[0] == "arn" else None


def _edges(name: str, state: Mapping[str, Any]) -> Iterator[GraphEdge]:
    if next_state := state.get("Next"):
        yield GraphEdge(from_=name, to=next_state, kind="next")
    for rule in state.get("Choices") or ():
        if isinstance(rule, Mapping) and rule.get("Next"):
            yield GraphEdge(from_=name, to=rule["Next"], kind="choice", label=_short(_rule(rule)))
    if default := state.get("Default"):
        yield GraphEdge(from_=name, to=default, kind="default")
    for catcher in state.get("Catch") or ():
        if isinstance(catcher, Mapping) and catcher.get("Next"):
            errors = ", ".join(map(str, catcher.get("ErrorEquals") or ()))
            yield GraphEdge(from_=name, to=catcher["Next"], kind="catch", label=_short(errors) or None)


def _rule(rule: Mapping[str, Any]) -> str:
    """A Choice rule in short: `$.tier == "pro"`, `$.a > 1 and not ($.b is present)`, or a JSONata
    condition as written."""
    if isinstance(condition := rule.get("Condition"), str):
        return condition.removeprefix("{%").removesuffix("%}").strip()
    for combinator in ("And", "Or"):
        if isinstance(rules := rule.get(combinator), list):
            return f" {combinator.lower()} ".join(
                f"({_rule(r)})" if _combined(r) else _rule(r) for r in rules
            )
    if isinstance(negated := rule.get("Not"), Mapping):
        return f"not ({_rule(negated)})"
    variable = str(rule.get("Variable", "?"))
    for key, value in rule.items():
        if key in ("Variable", "Next", "Comment", "Assign", "Output"):
            continue
        return f"{variable} {_comparison(key, value)}"
    return variable


def _combined(rule: object) -> bool:
    return isinstance(rule, Mapping) and ("And" in rule or "Or" in rule)


def _comparison(operator: str, value: object) -> str:
    if operator == "IsPresent":
        return "is present" if value else "is absent"
    if operator == "StringMatches":
        return f"matches {json.dumps(value)}"
    written = json.dumps(value)
    if operator.endswith("Path"):  # compared with another part of the input: a path, not a literal
        operator, written = operator.removesuffix("Path"), str(value)
    for kind in _TYPES:
        if operator.startswith(kind) and (symbol := _OPERATORS.get(operator.removeprefix(kind))):
            return f"{symbol} {written}"
    return f"{operator} {written}"


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARACTERS else text[: LABEL_CHARACTERS - 1].rstrip() + "…"
