"""Lineage diff between two times, on a job that changed its SQL, inputs and output schema."""

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from factories import T0, column_lineage, dataset, run_event
from headwater.analysis.diff import diff
from headwater.api import create_app
from headwater.api.auth import ApiKeys
from headwater.cli.main import app
from headwater.store import open_store


def test_diff_between_two_versions_of_a_job(tmp_path):
    db = f"sqlite:///{tmp_path / 'd.db'}"
    store = open_store(db)
    v1 = column_lineage({"v": [("warehouse:a", "x", "DIRECT", "IDENTITY")]})
    v2 = column_lineage(
        {
            "v": [("warehouse:b", "y", "DIRECT", "TRANSFORMATION")],
            "w": [("warehouse:b", "z", "DIRECT", "IDENTITY")],
        }
    )
    store.ingest(
        run_event(
            job="etl",
            inputs=[dataset("a", fields=["x"])],
            outputs=[dataset("out", fields=["v"], columnLineage=v1)],
            at=0,
            sql="SELECT x AS v FROM a",
        )
    )
    store.ingest(
        run_event(
            job="etl",
            inputs=[dataset("b", fields=["y", "z"])],
            outputs=[dataset("out", fields=["v", "w"], columnLineage=v2)],
            at=100,
            sql="SELECT y + 1 AS v, z AS w FROM b",
        )
    )
    result = diff(store, T0 + timedelta(seconds=50))
    assert result.edges_added == ["b -> etl"] and result.edges_removed == ["a -> etl"]
    assert result.columns_added == ["b.y -> out.v (etl)", "b.z -> out.w (etl)"]
    assert result.columns_removed == ["a.x -> out.v (etl)"]
    assert result.schema_changes == {"out": {"added": ["w"], "removed": []}}
    assert (
        "-SELECT x AS v FROM a" in result.sql_changes["pipelines:etl"]
        and "+SELECT y + 1 AS v, z AS w FROM b" in result.sql_changes["pipelines:etl"]
    )
    assert diff(store, T0 + timedelta(seconds=200)).empty

    out = CliRunner().invoke(
        app, ["diff", "--from", "2025-01-17T12:00:50Z", "--db", db, "-f", "json"]
    )
    assert out.exit_code == 0 and json.loads(out.stdout)["edges_added"] == ["b -> etl"]
    text = CliRunner().invoke(
        app, ["diff", "--from", "2025-01-17T12:00:50Z", "--db", db], terminal_width=200
    )
    assert "SQL of pipelines:etl changed" in text.output and "schema of out" in text.output
    bad = CliRunner().invoke(app, ["diff", "--from", "yesterday", "--db", db])
    assert bad.exit_code == 1 and "--from" in bad.output
    client = TestClient(create_app(store, api_keys=ApiKeys({})))
    assert client.get("/api/v1/headwater/diff", params={"from": "2025-01-17T12:00:50Z"}).json()[
        "edges_removed"
    ] == ["a -> etl"]
    assert client.get("/api/v1/headwater/diff", params={"from": "nope"}).status_code == 422
