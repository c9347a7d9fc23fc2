"""PII flow: tags and Iceberg pii properties, propagated along column lineage, stopped by masking."""

import json

from typer.testing import CliRunner

from factories import column_lineage, dataset, run_event
from headwater.analysis.compliance import pii_flow
from headwater.capture.iceberg import open_catalog
from headwater.capture.transport import make_client
from headwater.cli.main import app
from headwater.pipelines import REFERENCE, Runner, load_pipeline
from headwater.store import open_store


def test_reference_pipeline_pii_columns(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    Runner(open_catalog(tmp_path / "catalog"), make_client(store)).run(
        load_pipeline(REFERENCE, {"num_orders": 50})
    )
    columns, _ = pii_flow(store)
    found = {(c.dataset.name.rsplit("/", 1)[-1], c.field): c for c in columns}
    assert set(found) == {
        ("customers_source", "email"),
        ("customers_source", "first_name"),
        ("customers_source", "last_name"),
        ("customer_orders_staging", "email"),
        ("customer_orders_staging", "first_name"),
        ("customer_orders_staging", "last_name"),
        ("customer_revenue_summary", "email"),
        ("customer_revenue_summary", "customer_name"),
    }
    name = found[("customer_revenue_summary", "customer_name")]
    assert not name.tagged and name.path.startswith("customers_source.")
    assert name.path.endswith(
        "-> customer_orders_staging.first_name -> customer_revenue_summary.customer_name"
    ) or name.path.endswith(
        "-> customer_orders_staging.last_name -> customer_revenue_summary.customer_name"
    )


def test_masking_stops_pii_and_tags_start_it(tmp_path):
    db = f"sqlite:///{tmp_path / 'm.db'}"
    store = open_store(db)
    hashed = column_lineage(
        {
            "email_hash": [("crm:users", "email", "DIRECT", "TRANSFORMATION")],
            "email_copy": [("crm:users", "email", "DIRECT", "IDENTITY")],
        }
    )
    hashed["fields"]["email_hash"]["inputFields"][0]["transformations"][0]["masking"] = True
    store.ingest(
        run_event(
            inputs=[dataset("users", namespace="crm", fields=["id", "email"])],
            outputs=[
                dataset(
                    "mart",
                    namespace="crm",
                    fields=["email_hash", "email_copy"],
                    columnLineage=hashed,
                )
            ],
        )
    )
    assert pii_flow(store) == ([], [])  # nothing tagged yet
    runner = CliRunner()
    out = runner.invoke(app, ["tag", "pii", "users.email", "--db", db])
    assert out.exit_code == 0 and "tagged users.email with pii" in out.output
    columns, stops = pii_flow(store)
    assert {(c.dataset.name, c.field) for c in columns} == {
        ("users", "email"),
        ("mart", "email_copy"),
    }
    assert stops == ["users.email -> mart.email_hash: masked (TRANSFORMATION(email))"]
    report = runner.invoke(app, ["compliance", "pii", "-f", "json", "--db", db])
    assert json.loads(report.stdout)["maskedAt"] == stops
    bad = runner.invoke(app, ["tag", "pii", "nowhere.col", "--db", db])
    assert bad.exit_code == 1 and "no dataset or column matches" in bad.output


def test_record_of_processing_activities(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    store = open_store(db)
    Runner(open_catalog(tmp_path / "catalog"), make_client(store)).run(
        load_pipeline(REFERENCE, {"num_orders": 50})
    )
    runner = CliRunner()
    md = runner.invoke(app, ["compliance", "report", "--db", db])
    assert md.exit_code == 0 and md.stdout.startswith("# Record of processing activities")
    assert (
        "| headwater:customer_orders_etl | Join orders with customer attributes into the staging table | data-engineering-team |"
        in md.stdout
    )
    rows = json.loads(runner.invoke(app, ["compliance", "report", "-f", "json", "--db", db]).stdout)
    agg = next(r for r in rows if r["job"] == "headwater:customer_revenue_aggregation")
    assert agg["pii_outputs"] == [
        "customer_revenue_summary.customer_name",
        "customer_revenue_summary.email",
    ]
    assert agg["owners"] == ["analytics-team"] and agg["last_state"] == "COMPLETED"
    out = tmp_path / "ropa.csv"
    runner.invoke(app, ["compliance", "report", "-f", "csv", "-o", str(out), "--db", db])
    assert out.read_text().splitlines()[0].startswith("job,purpose,owners,pii_inputs")
