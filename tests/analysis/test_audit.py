"""The audit trail over real pipeline runs and real integration events."""

import json

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headwater.analysis.audit import audit_trail
from headwater.api import create_app
from headwater.api.auth import ApiKeys
from headwater.capture.iceberg import open_catalog
from headwater.capture.transport import make_client
from headwater.cli.main import app
from headwater.pipelines import REFERENCE, Runner, load_pipeline
from headwater.store import open_store


def test_who_what_when_where_why(tmp_path, monkeypatch, shared_dir):
    monkeypatch.setenv("HEADWATER_ACTOR", "ada@example.com")
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    Runner(open_catalog(tmp_path / "catalog"), make_client(store)).run(
        load_pipeline(REFERENCE, {"num_orders": 50})
    )
    for path in sorted((shared_dir / "openlineage-events" / "airflow" / "events").glob("*.json")):
        store.ingest(path.read_bytes())
    entries = audit_trail(store, dataset="customer_revenue_summary")
    jobs = [e.job for e in entries]
    assert (
        "headwater:customer_revenue_aggregation" in jobs
        and "headwater:customer_revenue_aggregation.quality_checks" in jobs
    )
    step = next(e for e in entries if e.job == "headwater:customer_revenue_aggregation")
    assert (step.actor, step.environment, step.state) == (
        "ada@example.com",
        "development",
        "COMPLETE",
    )
    assert step.purpose == "Revenue, cost and profit per customer" and step.engine.startswith(
        "duckdb"
    )
    assert step.sql.startswith("SELECT co.customer_id") and step.started <= step.ended
    assert any(
        o.split("@")[0].endswith("/customer_revenue_summary") and "@" in o for o in step.outputs
    )
    assert audit_trail(store, actor="someone-else") == []
    airflow = audit_trail(store, job="BQ.upload")
    assert (
        len(airflow) == 1
        and airflow[0].actor is None
        and airflow[0].inputs == ["gs://mock-bucket:copied.csv", "gs://mock-bucket:test.csv"]
    )
    assert (
        audit_trail(
            store,
            since=__import__("datetime").datetime(2030, 1, 1, tzinfo=__import__("datetime").UTC),
        )
        == []
    )

    out = CliRunner().invoke(
        app,
        [
            "audit",
            "--job",
            "customer_orders_etl",
            "-f",
            "json",
            "--db",
            f"sqlite:///{tmp_path / 'h.db'}",
        ],
    )
    assert out.exit_code == 0 and json.loads(out.stdout)[0]["actor"] == "ada@example.com"
    bad = CliRunner().invoke(
        app, ["audit", "--since", "yesterday", "--db", f"sqlite:///{tmp_path / 'h.db'}"]
    )
    assert bad.exit_code == 1 and "--since" in bad.output and "Traceback" not in bad.output
    client = TestClient(create_app(store, api_keys=ApiKeys({})))
    body = client.get("/api/v1/headwater/audit", params={"actor": "ada@example.com"}).json()
    assert body["totalCount"] == len(body["runs"]) > 0
    assert client.get("/api/v1/headwater/audit", params={"since": "nope"}).status_code == 422
