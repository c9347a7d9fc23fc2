"""Column lineage from Spark logical plans (pure): checked against the OpenLineage Spark agent."""

import json
from pathlib import Path

import pytest

from headwater.sql import DatasetRef
from headwater.sql.spark_plan import (
    PlanError,
    parse_plan,
    plan_lineage,
    render,
    table_identifier,
    with_plan_lineage,
)


def _agent_events(shared_dir: Path) -> list[dict]:
    events = []
    for path in sorted((shared_dir / "openlineage-events").rglob("*.json")):
        event = json.loads(path.read_text())
        facets = event.get("run", {}).get("facets", {})
        outputs = event.get("outputs") or []
        if "spark.logicalPlan" in facets and any(
            "columnLineage" in o.get("facets", {}) for o in outputs
        ):
            events.append(event)
    return events


def _flatten(facet: dict) -> dict[str, set]:
    return {
        name: {
            (i["namespace"], i["name"], i["field"], t["type"], t["subtype"])
            for i in spec["inputFields"]
            for t in i.get("transformations", [])
        }
        for name, spec in facet["fields"].items()
    }


def test_derived_lineage_equals_the_spark_agents(shared_dir):
    events = _agent_events(shared_dir)
    assert len(events) >= 3  # the CLL events: CTAS with join, filter, group by, concat, sum
    for event in events:
        derived = with_plan_lineage(
            [
                {**o, "facets": {k: v for k, v in o["facets"].items() if k != "columnLineage"}}
                for o in event["outputs"]
            ],
            event["inputs"],
            event["run"]["facets"],
        )
        expected = _flatten(event["outputs"][0]["facets"]["columnLineage"])
        assert _flatten(derived[0]["facets"]["columnLineage"]) == expected


def test_descriptions_and_dataset_dependencies(shared_dir):
    event = _agent_events(shared_dir)[0]
    plan = event["run"]["facets"]["spark.logicalPlan"]["plan"]
    inputs = {
        i["name"].rsplit("/", 1)[-1]: DatasetRef(i["namespace"], i["name"]) for i in event["inputs"]
    }
    lineage = plan_lineage(
        plan, lambda node: inputs.get((table_identifier(node) or "").split(".")[-1])
    )
    assert lineage.command == "CreateHiveTableAsSelectCommand"
    assert lineage.output_names == ("ident", "trans", "agg")
    trans = {c.field: c for c in lineage.columns}["trans"]
    direct = [t for i in trans.inputs for t in i.transformations if t.type == "DIRECT"]
    assert [(t.subtype, t.description) for t in direct] == [("TRANSFORMATION", "concat(b, 'test')")]
    subtypes = {t.subtype for i in lineage.dataset_dependencies for t in i.transformations}
    assert subtypes == {"FILTER", "GROUP_BY", "JOIN"}


def test_existing_column_lineage_is_kept(shared_dir):
    event = _agent_events(shared_dir)[0]
    assert (
        with_plan_lineage(event["outputs"], event["inputs"], event["run"]["facets"])
        is event["outputs"]
    )
    assert with_plan_lineage(event["outputs"], event["inputs"], {}) is event["outputs"]


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({}, "non-empty JSON list"),
        ([], "non-empty JSON list"),
        ([{"class": "x.Project", "num-children": 1}], "ends before all children"),
        ([{"num-children": 0}], "has no 'class'"),
    ],
)
def test_bad_plans_are_clear_errors(plan, message):
    with pytest.raises(PlanError, match=message):
        parse_plan(plan)


def test_malformed_plan_facet_leaves_the_event_alone():
    outputs = [{"namespace": "file", "name": "/t", "facets": {}}]
    facets = {"spark.logicalPlan": {"plan": [{"class": "x.Project", "num-children": 3}]}}
    assert with_plan_lineage(outputs, [], facets) is outputs


def test_render_case_and_window():
    attr = {
        "class": "o.a.s.AttributeReference",
        "num-children": 0,
        "name": "a",
        "exprId": {"id": 1},
    }
    lit = {"class": "o.a.s.Literal", "num-children": 0, "value": "1", "dataType": "integer"}
    case = parse_plan([{"class": "o.a.s.CaseWhen", "num-children": 3}, attr, lit, attr])
    assert render(case) == "CASE WHEN a THEN 1 ELSE a END"
