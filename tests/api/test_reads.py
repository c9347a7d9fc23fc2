"""Marquez-compatible reads, over the real integration events and the retail scenario."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from factories import dataset, run_event
from headwater.api.reads import json_response
from headwater.graph import column_lineage, lineage
from headwater.model import DatasetId


@pytest.fixture
def loaded(client, shared_dir: Path):
    for path in sorted((shared_dir / "openlineage-events").glob("*/events/*.json")):
        assert (
            client.post(
                "/api/v1/lineage",
                content=path.read_bytes(),
                headers={"Content-Type": "application/json"},
            ).status_code
            == 201
        )
    return client


def test_spark_cll_column_lineage(loaded):
    r = loaded.get(
        "/api/v1/column-lineage", params={"nodeId": "dataset:file:/tmp/cll_test/tbl1", "depth": 1}
    )
    assert r.status_code == 200
    nodes = {n["id"]: n for n in r.json()["graph"]}

    def direct_inputs(field):
        data = nodes[f"datasetField:file:/tmp/cll_test/tbl1:{field}"]["data"]
        return {
            (i["dataset"], i["field"])
            for i in data["inputFields"]
            if any(t["type"] == "DIRECT" for t in i["transformations"])
        }

    assert direct_inputs("ident") == {("/tmp/cll_test/cll_source1", "a")}
    assert direct_inputs("trans") == {("/tmp/cll_test/cll_source1", "b")}
    assert direct_inputs("agg") == {("/tmp/cll_test/cll_source2", "c")}
    agg = nodes["datasetField:file:/tmp/cll_test/tbl1:agg"]["data"]
    assert agg["transformationType"] == "DIRECT"


def test_airflow_lineage_and_paths_with_slashes(loaded):
    r = loaded.get(
        "/api/v1/lineage",
        params={"nodeId": "dataset:bigquery:mock-project.test.upload", "direction": "downstream"},
    )
    ids = {n["id"] for n in r.json()["graph"]}
    assert (
        "dataset:gs://mock-bucket:result.csv" in ids
        and "dataset:gs://mock-bucket:test.csv" not in ids
    )
    both = loaded.get(
        "/api/v1/lineage", params={"nodeId": "dataset:bigquery:mock-project.test.upload"}
    ).json()
    assert "dataset:gs://mock-bucket:test.csv" in {n["id"] for n in both["graph"]}
    ds = loaded.get("/api/v1/namespaces/gs:%2F%2Fmock-bucket/datasets").json()
    assert ds["totalCount"] == len(ds["datasets"]) > 3
    one = loaded.get("/api/v1/namespaces/file/datasets/%2Ftmp%2Fcll_test%2Ftbl1")
    assert one.status_code == 200 and one.json()["id"] == {
        "namespace": "file",
        "name": "/tmp/cll_test/tbl1",
    }


def test_entities(loaded):
    jobs = loaded.get("/api/v1/namespaces/airflow/jobs").json()
    assert jobs["totalCount"] == len(jobs["jobs"])
    job = loaded.get("/api/v1/namespaces/airflow/jobs/BQ.upload").json()
    assert job["latestRun"]["state"] == "COMPLETED"
    runs = loaded.get("/api/v1/namespaces/airflow/jobs/BQ.upload/runs").json()
    run_id = runs["runs"][0]["id"]
    assert loaded.get(f"/api/v1/runs/{run_id}").json()["id"] == run_id
    assert (
        loaded.get(f"/api/v1/jobs/runs/{run_id}/facets", params={"type": "run"}).json()["runId"]
        == run_id
    )
    versions = loaded.get("/api/v1/namespaces/airflow/jobs/BQ.upload/versions").json()
    assert versions["totalCount"] >= 1
    v = versions["versions"][0]["version"]
    assert loaded.get(f"/api/v1/namespaces/airflow/jobs/BQ.upload/versions/{v}").status_code == 200
    upstream = loaded.get("/api/v1/runlineage/upstream", params={"runId": run_id}).json()
    assert upstream["runs"][0]["run"]["id"] == run_id


def test_events_paging_and_sort(loaded):
    page = loaded.get("/api/v1/events/lineage", params={"limit": 5, "sortDirection": "asc"}).json()
    times = [e["eventTime"] for e in page["events"]]
    assert page["totalCount"] == 70 and len(times) == 5
    window = loaded.get(
        "/api/v1/events/lineage",
        params={"after": "2024-11-26T00:00:00Z", "before": "2024-11-27T00:00:00Z", "limit": 100},
    ).json()
    assert window["totalCount"] == 32
    assert loaded.get("/api/v1/events/lineage", params={"before": "garbage"}).status_code == 422


def test_search(loaded):
    r = loaded.get(
        "/api/v1/search", params={"q": "upload", "filter": "DATASET", "sort": "NAME"}
    ).json()
    names = [x["name"] for x in r["results"]]
    assert names == sorted(names) and r["totalCount"] == len(names) > 0
    assert all(x["type"] == "DATASET" for x in r["results"])
    assert loaded.get("/api/v1/search", params={"q": ""}).status_code == 400


def test_errors_are_json(loaded):
    assert loaded.get("/api/v1/namespaces/nope").status_code == 404
    r = loaded.get("/api/v1/lineage", params={"nodeId": "nonsense"})
    assert r.status_code == 400 and r.json()["param"] == "nodeId"
    r = loaded.get(
        "/api/v1/lineage", params={"nodeId": "dataset:file:/tmp/cll_test/tbl1", "depth": -1}
    )
    assert r.status_code == 400 and "depth" in r.json()["message"]
    assert loaded.get("/api/v1/lineage").status_code == 400


def test_tags(loaded):
    r = loaded.post("/api/v1/namespaces/file/datasets/%2Ftmp%2Fcll_test%2Ftbl1/fields/agg/tags/pii")
    assert r.status_code == 200
    assert next(f for f in r.json()["fields"] if f["name"] == "agg")["tags"] == ["pii"]
    assert loaded.get("/api/v1/tags").json()["tags"] == [{"name": "pii", "description": None}]


def test_as_of_parameter(client):
    client.post(
        "/api/v1/lineage",
        json=run_event(job="j", inputs=[dataset("a")], outputs=[dataset("o")], at=0),
    )
    client.post(
        "/api/v1/lineage",
        json=run_event(job="j", inputs=[dataset("b")], outputs=[dataset("o")], at=100),
    )
    then = client.get(
        "/api/v1/lineage", params={"nodeId": "dataset:warehouse:o", "asOf": "2025-01-17T12:00:50Z"}
    ).json()
    assert "dataset:warehouse:a" in {n["id"] for n in then["graph"]}
    assert (
        client.get(
            "/api/v1/lineage", params={"nodeId": "dataset:warehouse:o", "asOf": "soon"}
        ).status_code
        == 422
    )
    assert (
        client.get(
            "/api/v1/column-lineage",
            params={"nodeId": "dataset:warehouse:o", "asOf": "2025-01-17T12:00:50Z"},
        ).status_code
        == 200
    )


def test_lean_lineage_has_the_same_graph_without_details(loaded):
    node = "dataset:file:/tmp/cll_test/tbl1"
    full = loaded.get("/api/v1/lineage", params={"nodeId": node, "depth": 5})
    lean = loaded.get("/api/v1/lineage", params={"nodeId": node, "depth": 5, "lean": "true"})
    assert full.status_code == lean.status_code == 200
    shape = lambda g: [(n["id"], n["type"], n["inEdges"], n["outEdges"]) for n in g["graph"]]  # noqa: E731
    assert shape(full.json()) == shape(lean.json()) and len(lean.json()["graph"]) > 1
    for node in lean.json()["graph"]:
        assert set(node["data"]) == {"id", "name", "namespace", "type"}
    assert any("facets" in n["data"] or "latestRun" in n["data"] for n in full.json()["graph"])


def _fastapi_bytes(payload):
    """The body FastAPI writes for a handler returning ``Json`` (validate, then pydantic)."""
    adapter = TypeAdapter(dict[str, Any])
    return adapter.dump_json(adapter.validate_python(payload))


@pytest.mark.parametrize(
    ("path", "params", "build"),
    [
        (
            "/api/v1/lineage",
            {"nodeId": "dataset:bigquery:mock-project.test.upload", "depth": 20},
            lambda store: lineage(store, DatasetId("bigquery", "mock-project.test.upload"), 20),
        ),
        (
            "/api/v1/column-lineage",
            {"nodeId": "dataset:file:/tmp/cll_test/tbl1", "depth": 20, "withDownstream": True},
            lambda store: column_lineage(store, DatasetId("file", "/tmp/cll_test/tbl1"), 20, True),
        ),
    ],
)
def test_graph_bodies_are_the_bytes_fastapi_would_write(loaded, path, params, build):
    r = loaded.get(path, params=params)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.content == _fastapi_bytes(build(loaded.app.state.store))


def test_graph_floats_are_written_as_fastapi_would(client):
    facets = {"stats": {"_producer": "x", "_schemaURL": "x", "f": [1e-7, 1e16, 0.1, 2.5e-300]}}
    event = run_event(inputs=[dataset("a")], outputs=[dataset("b", **facets)])
    assert client.post("/api/v1/lineage", json=event).status_code == 201
    r = client.get("/api/v1/lineage", params={"nodeId": "dataset:warehouse:a"})
    assert r.content == _fastapi_bytes(lineage(client.app.state.store, DatasetId("warehouse", "a")))
    assert b'"f":[1e-7,1e+16,0.1,2.5e-300]' in r.content


def test_what_orjson_cannot_write_goes_through_pydantic():
    payload = {"rows": 2**70, "graph": [{"n": -(2**64)}]}  # integers beyond 64 bits
    assert json_response(payload).body == _fastapi_bytes(payload)
