"""A definition as a graph (flowport.core.graph): every state once, every transition, no ARNs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flowport.core.graph import graph_of
from flowport.core.models import WorkflowGraph
from flowport.core.progress import count_nodes

STATEMACHINES = Path(__file__).resolve().parents[2] / "statemachines"


def definition(workflow: str, version: int) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((STATEMACHINES / workflow / f"v{version}.asl.json").read_text())
    return loaded


def edges(graph: WorkflowGraph) -> set[tuple[str, str, str, str | None]]:
    return {(edge.from_, edge.to, edge.kind, edge.label) for edge in graph.edges}


def test_every_shipped_definition_has_each_state_once_and_edges_between_its_states():
    for asl in sorted(STATEMACHINES.glob("*/v*.asl.json")):
        loaded = json.loads(asl.read_text())
        graph = graph_of(asl.parent.name, int(asl.stem.split(".")[0][1:]), loaded)
        names = [node.name for node in graph.nodes]
        assert len(names) == len(set(names)) == count_nodes(loaded), asl
        assert {edge.from_ for edge in graph.edges} | {edge.to for edge in graph.edges} <= set(names), asl
        assert graph.start_at in names
        document = graph.model_dump_json(by_alias=True)
        assert "arn:" not in document  # what a Task calls is named, never its ARN
        assert "${" not in document  # nor the template's substitutions


def test_choices_defaults_and_ends_of_ticket_triage():
    graph = graph_of("ticket-triage", 2, definition("ticket-triage", 2))
    assert graph.start_at == "CheckDelay"
    assert ("CheckDelay", "Screen", "choice", "$.delaySeconds is present") in edges(graph)
    assert ("CheckDelay", "DefaultDelay", "default", None) in edges(graph)
    assert ("Classify", "Standard", "choice", '$.customerTier == "pro"') in edges(graph)
    by_name = {node.name: node for node in graph.nodes}
    assert (by_name["Reject"].type, by_name["Reject"].end) == ("Fail", True)
    assert (by_name["CheckDelay"].start, by_name["Classify"].start) == (True, False)


def test_a_map_holds_its_item_states_and_tasks_name_their_service_and_catches_their_errors():
    graph = graph_of("document-summary", 1, definition("document-summary", 1))
    by_name = {node.name: node for node in graph.nodes}
    item = by_name["AnalyseSection"]
    assert (item.parent, item.branch, item.start, item.end) == ("AnalyseSections", None, True, True)
    assert by_name["ParseDocument"].resource == "lambda:invoke"
    assert by_name["ReportSections"].resource == "dynamodb:updateItem"
    assert by_name["ParseDocument"].retries is True
    assert ("ParseDocument", "RejectDocument", "catch", "InvalidDocument") in edges(graph)
    assert [node.name for node in graph.nodes].index("AnalyseSection") > list(by_name).index("Summarised")


def test_parallel_branches_the_old_iterator_and_every_kind_of_rule():
    asl = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {"StartAt": "Left", "States": {"Left": {"Type": "Pass", "End": True}}},
                    {
                        "StartAt": "Items",
                        "States": {
                            "Items": {
                                "Type": "Map",
                                "Iterator": {
                                    "StartAt": "Each",
                                    "States": {
                                        "Each": {
                                            "Type": "Task",
                                            "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                                            "End": True,
                                        }
                                    },
                                },
                                "End": True,
                            }
                        },
                    },
                ],
                "Next": "Decide",
            },
            "Decide": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.a", "NumericGreaterThanEquals": 2},
                            {
                                "Or": [
                                    {"Variable": "$.b", "BooleanEquals": True},
                                    {"Not": {"Variable": "$.c", "IsPresent": True}},
                                ]
                            },
                        ],
                        "Next": "Done",
                    },
                    {"Variable": "$.a", "NumericLessThanPath": "$.limit", "Next": "Done"},
                    {"Condition": "{% $states.input.x > 1 %}", "Next": "Done"},
                    {"Variable": "$.s", "StringMatches": "a*" + "x" * 100, "Next": "Done"},
                ],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    graph = graph_of("synthetic", 1, asl)
    by_name = {node.name: node for node in graph.nodes}
    assert (by_name["Left"].parent, by_name["Left"].branch) == ("Both", 0)
    assert (by_name["Items"].parent, by_name["Items"].branch) == ("Both", 1)
    assert (by_name["Each"].parent, by_name["Each"].branch, by_name["Each"].resource) == (
        "Items",
        None,
        "lambda",
    )
    labels = [edge.label for edge in graph.edges if edge.kind == "choice"]
    assert labels[0] == "$.a >= 2 and ($.b == true or not ($.c is present))"
    assert labels[1] == "$.a < $.limit"
    assert labels[2] == "$states.input.x > 1"
    assert labels[3] is not None
    assert len(labels[3]) == 80
    assert labels[3].endswith("…")
