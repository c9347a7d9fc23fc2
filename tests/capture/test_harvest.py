"""Harvest lineage from Iceberg table properties; export the event log to Iceberg."""

import json

import duckdb
import pyarrow as pa
from typer.testing import CliRunner

from headwater.capture.harvest import export_events, harvest
from headwater.capture.iceberg import commit_table, dataset_name, open_catalog, read_table
from headwater.capture.transport import make_client
from headwater.cli.main import app
from headwater.graph import lineage
from headwater.model import DatasetId, JobId
from headwater.pipelines import REFERENCE, Runner, load_pipeline
from headwater.store import open_store


def _external_tables(catalog):
    """Tables some other tool wrote, with the reference scenario's properties."""
    commit_table(
        catalog,
        "crm.accounts",
        pa.table({"id": [1, 2], "name": ["a", "b"]}),
        {"owner": "crm-team", "description": "CRM accounts"},
    )
    commit_table(
        catalog, "crm.contacts", pa.table({"id": [1], "account_id": [1]}), {"owner": "crm-team"}
    )
    commit_table(
        catalog,
        "mart.account_contacts",
        pa.table({"account": ["a"], "contacts": [1]}),
        {
            "upstream_tables": "crm.accounts,crm.contacts",
            "owner": "bi-team",
            "lineage_job": "dbt.account_contacts",
            "transformation": "join",
        },
    )


def test_harvest_records_lineage_from_properties(tmp_path):
    catalog = open_catalog(tmp_path / "catalog")
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    _external_tables(catalog)
    result = harvest(catalog, make_client(store))
    assert (result.tables, result.with_upstream, result.skipped) == (3, 1, 0)
    ns, name, _ = dataset_name(catalog, "mart.account_contacts")
    graph = lineage(store, DatasetId(ns, name), 5, "upstream")["graph"]
    names = {n["data"]["name"] for n in graph}
    assert {
        dataset_name(catalog, "crm.accounts")[1],
        dataset_name(catalog, "crm.contacts")[1],
        "account_contacts",
    } <= names
    job = store.get_job(JobId("dbt", "account_contacts"))
    assert job["description"] == "join"
    accounts = store.get_dataset(DatasetId(*dataset_name(catalog, "crm.accounts")[:2]))
    assert [f["name"] for f in accounts["fields"]] == ["id", "name"]
    assert accounts["facets"]["ownership"]["owners"][0]["name"] == "crm-team"
    # idempotent: harvesting again stores nothing new beyond the identical events
    before = store.list_events()[1]
    harvest(catalog, make_client(store))
    assert (
        store.get_job(JobId("dbt", "account_contacts"))["currentVersion"] == job["currentVersion"]
    )
    assert store.list_events()[1] >= before


def test_export_events_to_iceberg_queryable_from_duckdb(tmp_path):
    catalog = open_catalog(tmp_path / "catalog")
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    Runner(catalog, make_client(store)).run(
        load_pipeline(REFERENCE, {"num_orders": 100, "num_customers": 20, "num_products": 10})
    )
    count = export_events(store, catalog, "governance_demo.lineage_events")
    assert count == store.list_events(limit=1)[1] - 3  # everything but the 3 source DatasetEvents
    con = duckdb.connect()
    con.register("lineage_events", read_table(catalog, "governance_demo.lineage_events"))
    rows = con.execute(
        "SELECT job_name, event_type, execution_date FROM lineage_events WHERE job_name = 'customer_revenue_aggregation' ORDER BY event_time"
    ).fetchall()
    assert [r[1] for r in rows] == ["START", "COMPLETE"] and rows[0][2] == "2025-01-17T00:00:00Z"
    lineage_json = con.execute(
        "SELECT column_lineage FROM lineage_events WHERE job_name = 'customer_revenue_aggregation' AND event_type = 'COMPLETE'"
    ).fetchone()[0]
    (facet,) = json.loads(lineage_json).values()
    assert "total_profit" in facet["fields"]


def test_cli(tmp_path):
    catalog = open_catalog(tmp_path / "catalog")
    _external_tables(catalog)
    db = f"sqlite:///{tmp_path / 'h.db'}"
    runner = CliRunner()
    out = runner.invoke(
        app, ["iceberg", "harvest", "--catalog-dir", str(tmp_path / "catalog"), "--db", db]
    )
    assert out.exit_code == 0 and "harvested 3 tables (1 with upstream_tables)" in out.output
    out = runner.invoke(
        app,
        [
            "iceberg",
            "export",
            "mart.events",
            "--catalog-dir",
            str(tmp_path / "catalog"),
            "--db",
            db,
        ],
    )
    assert out.exit_code == 0 and "exported 0 run events" in out.output
    missing = runner.invoke(app, ["iceberg", "harvest", "--catalog-dir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "no Iceberg catalog" in missing.output


def test_async_transport_stores_in_order_and_logs_rejections(tmp_path):
    from factories import run_event
    from headwater.capture.transport import StoreTransport, flush
    from headwater.store import open_store as open_

    store = open_(f"sqlite:///{tmp_path / 'a.db'}")
    client = make_client(store, asynchronous=True)
    transport = client.transport
    assert isinstance(transport, StoreTransport)

    transport._queue.put(b'{"not": "an event"}')  # what a buggy producer might send
    for event in (
        run_event("START", run_id="6b6c7c2e-1f7b-4c1c-8d0e-5d8f2b1a0c01", at=0),
        run_event("COMPLETE", run_id="6b6c7c2e-1f7b-4c1c-8d0e-5d8f2b1a0c01", at=1),
    ):
        transport._queue.put(json.dumps(event).encode())
    flush(client)
    assert store.get_run("6b6c7c2e-1f7b-4c1c-8d0e-5d8f2b1a0c01")["state"] == "COMPLETED"
    assert len(transport.errors) == 1 and "not stored" in transport.errors[0]
