"""The pipeline runner on real DuckDB, a real pyiceberg SQL catalog and the real store."""

import json

import pytest

from headwater.capture.iceberg import dataset_name, read_table
from headwater.capture.transport import make_client
from headwater.graph import column_lineage
from headwater.model import DatasetId, JobId
from headwater.pipelines import REFERENCE, PipelineError, Runner, StepFailed, load_pipeline
from headwater.pipelines.validate import validate

SMALL = {"num_customers": 30, "num_orders": 200, "num_products": 15, "seed": 7}


def _run(catalog, store, **params):
    pipeline = load_pipeline(REFERENCE, {**SMALL, **params})
    return pipeline, Runner(catalog, make_client(store)).run(pipeline)


def test_reference_pipeline_tables_properties_and_events(workspace, openlineage_validator):
    catalog, store = workspace
    pipeline, result = _run(catalog, store)
    assert result.sources == {
        "governance_demo.customers_source": 30,
        "governance_demo.products_source": 15,
        "governance_demo.orders_source": 200,
    }
    staging, summary = result.steps
    assert staging.rows == 200 and 0 < summary.rows <= 30
    props = catalog.load_table("governance_demo.customer_revenue_summary").properties
    assert (
        props["upstream_tables"]
        == "governance_demo.customer_orders_staging,governance_demo.products_source"
    )
    assert (
        props["upstream_original"]
        == "governance_demo.customers_source,governance_demo.orders_source,governance_demo.products_source"
    )
    assert (
        props["lineage_run_id"] == summary.run_id
        and props["lineage_job"] == "headwater.customer_revenue_aggregation"
    )
    assert props["quality_checks"] == "total_revenue > 0, profit_margin < 100"
    assert props["pii_data"] == "true"  # email flows from customers_source
    for key in (
        "description",
        "owner",
        "transformation",
        "business_logic",
        "refresh_frequency",
        "created_by",
    ):
        assert props[key]
    # every stored event is valid OpenLineage, facets included
    events, total = store.list_events(limit=1000)
    assert (
        total == 1 + 3 + 2 * 2 + 2 * 2 + 1
    )  # pipeline START, 3 sources, 2 steps x 2, 2 check runs x 2, pipeline COMPLETE
    for event in events:
        openlineage_validator(event)
    complete = next(
        e
        for e in events
        if e.get("eventType") == "COMPLETE" and e["job"]["name"] == "customer_revenue_aggregation"
    )
    out = complete["outputs"][0]
    assert out["facets"]["version"]["datasetVersion"] == str(summary.snapshot.snapshot_id)
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == summary.rows
    assert (
        out["facets"]["symlinks"]["identifiers"][0]["name"]
        == "governance_demo.customer_revenue_summary"
    )
    assert out["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "CREATE"
    assert complete["run"]["facets"]["parent"]["run"]["runId"] == result.run_id
    assert complete["run"]["facets"]["processing_engine"]["name"] == "duckdb"
    assert complete["run"]["facets"]["headwater_audit"]["environment"] == "development"
    assert complete["job"]["facets"]["sql"]["query"].startswith("SELECT co.customer_id")


def test_column_lineage_reaches_the_store(workspace):
    catalog, store = workspace
    _run(catalog, store)
    ns, name, _ = dataset_name(catalog, "governance_demo.customer_revenue_summary")
    graph = {n["id"]: n for n in column_lineage(store, DatasetId(ns, name), depth=1)["graph"]}
    profit = graph[f"datasetField:{ns}:{name}:total_profit"]["data"]
    direct = {
        (i["dataset"].rsplit("/", 1)[-1], i["field"])
        for i in profit["inputFields"]
        for t in i["transformations"]
        if t["type"] == "DIRECT"
    }
    assert direct == {
        ("customer_orders_staging", "quantity"),
        ("products_source", "price"),
        ("products_source", "cost"),
    }
    subtypes = {t["subtype"] for i in profit["inputFields"] for t in i["transformations"]}
    assert {"AGGREGATION", "JOIN", "GROUP_BY"} <= subtypes


def test_validation_passes(workspace):
    catalog, store = workspace
    _, result = _run(catalog, store)
    results = validate(result, catalog, store)
    assert len(results) == 6 and all(v.passed for v in results), results


def test_reruns_make_new_runs_and_snapshots(workspace):
    catalog, store = workspace
    _, first = _run(catalog, store)
    _, second = _run(catalog, store)
    assert first.run_id != second.run_id
    assert first.steps[1].run_id != second.steps[1].run_id
    assert first.steps[1].snapshot.snapshot_id != second.steps[1].snapshot.snapshot_id
    runs, total = store.list_runs(JobId("headwater", "customer_revenue_aggregation"))
    assert total == 2
    ns, name, _ = dataset_name(catalog, "governance_demo.customer_revenue_summary")
    versions, count = store.list_dataset_versions(DatasetId(ns, name))
    assert count == 2


def test_failing_step_records_fail_and_keeps_earlier_snapshots(workspace):
    catalog, store = workspace
    _run(catalog, store)
    staging_before = (
        catalog.load_table("governance_demo.customer_orders_staging").current_snapshot().snapshot_id
    )
    summary_before = (
        catalog.load_table("governance_demo.customer_revenue_summary")
        .current_snapshot()
        .snapshot_id
    )
    raw = {
        "name": "broken",
        "namespace": "headwater",
        "parameters": {"database_name": "governance_demo"},
        "steps": [
            {
                "job": "ok_step",
                "target": "ok_table",
                "sql": "SELECT customer_id FROM customers_source",
            },
            {
                "job": "bad_step",
                "target": "customer_revenue_summary",
                "sql": "SELECT no_such_column FROM customer_orders_staging",
            },
        ],
    }
    with pytest.raises(StepFailed) as info:
        Runner(catalog, make_client(store)).run(load_pipeline(raw))
    assert info.value.step == "bad_step" and "no_such_column" in str(info.value)
    assert (
        catalog.load_table("governance_demo.customer_revenue_summary")
        .current_snapshot()
        .snapshot_id
        == summary_before
    )
    assert (
        catalog.load_table("governance_demo.customer_orders_staging").current_snapshot().snapshot_id
        == staging_before
    )
    assert (
        read_table(catalog, "governance_demo.ok_table").num_rows == 30
    )  # the earlier step did commit
    failed = store.get_job(JobId("headwater", "bad_step"))["latestRun"]
    assert failed["state"] == "FAILED"
    assert (
        "no_such_column" in store.get_run_facets(failed["id"])["facets"]["errorMessage"]["message"]
    )
    assert store.get_job(JobId("headwater", "broken"))["latestRun"]["state"] == "FAILED"
    # fixed, it runs
    raw["steps"][1]["sql"] = "SELECT customer_id FROM customer_orders_staging"
    raw["steps"][1]["target"] = "fixed_table"
    Runner(catalog, make_client(store)).run(load_pipeline(raw))
    assert store.get_job(JobId("headwater", "bad_step"))["latestRun"]["state"] == "COMPLETED"


def test_missing_source_and_bad_parameters(workspace, tmp_path):
    catalog, store = workspace
    with pytest.raises(PipelineError, match="unknown parameter 'nope'"):
        load_pipeline(REFERENCE, {"nope": 1})
    raw = {
        "name": "p",
        "sources": [{"table": "absent"}],
        "steps": [{"job": "j", "target": "t", "sql": "SELECT 1 AS x FROM absent"}],
    }
    with pytest.raises(PipelineError, match="source table default.absent does not exist"):
        Runner(catalog, make_client(store)).run(load_pipeline(raw))
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(PipelineError, match="not valid YAML"):
        load_pipeline(bad)
    with pytest.raises(PipelineError, match="unknown parameter \\$\\{missing\\}"):
        load_pipeline(
            {"name": "p", "steps": [{"job": "j", "target": "t", "sql": "SELECT ${missing}"}]}
        )


def test_failed_quality_check_is_recorded(workspace):
    catalog, store = workspace
    raw = json.loads(
        json.dumps({"name": "q", "parameters": {"database_name": "governance_demo"}, "steps": []})
    )
    _run(catalog, store)
    raw["steps"] = [
        {
            "job": "margins",
            "target": "margins",
            "sql": "SELECT customer_id, total_profit FROM customer_revenue_summary",
            "checks": [{"sql": "total_profit > 1000000"}],
        }
    ]
    result = Runner(catalog, make_client(store)).run(load_pipeline(raw))
    (check,) = result.steps[0].checks
    assert not check.success
    assert (
        store.get_job(JobId("headwater", "margins.quality_checks"))["latestRun"]["state"]
        == "FAILED"
    )


def test_capture_over_http_with_openlineage_url(workspace, server_factory, monkeypatch):
    catalog, _ = workspace
    url = server_factory()
    monkeypatch.setenv("OPENLINEAGE_URL", url)
    pipeline = load_pipeline(REFERENCE, SMALL)
    Runner(catalog, make_client()).run(pipeline)
    import httpx

    jobs = httpx.get(f"{url}/api/v1/namespaces/headwater/jobs").json()
    assert {j["name"] for j in jobs["jobs"]} >= {
        "customer_orders_etl",
        "customer_revenue_aggregation",
        "retail_governance",
    }


def test_demo_cli(tmp_path):
    from typer.testing import CliRunner

    from headwater.cli.main import app

    result = CliRunner().invoke(
        app,
        ["demo", "--dir", str(tmp_path / "demo"), "-p", "num_orders=300", "-p", "seed=3"],
        terminal_width=160,
    )
    assert result.exit_code == 0, result.output
    for text in (
        "customer_revenue_summary",
        "total_profit is computed",
        "orders_source.quantity",
        "passed",
        "Browse it",
    ):
        assert text in result.output
    assert "FAILED" not in result.output
    assert (tmp_path / "demo" / "headwater.db").exists() and (
        tmp_path / "demo" / "catalog" / "catalog.db"
    ).exists()
    bad = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path / "demo"), "-p", "nope=1"])
    assert bad.exit_code == 1 and "unknown parameter 'nope'" in bad.output
    lineage_out = CliRunner().invoke(
        app, ["jobs", "--db", f"sqlite:///{tmp_path / 'demo' / 'headwater.db'}", "-f", "json"]
    )
    assert {j["name"] for j in json.loads(lineage_out.stdout)} >= {
        "customer_orders_etl",
        "customer_revenue_aggregation",
    }


def test_unreachable_catalog_is_a_clear_error(tmp_path):
    from typer.testing import CliRunner

    from headwater.cli.main import app

    result = CliRunner().invoke(
        app,
        [
            "run",
            str(REFERENCE),
            "--catalog",
            "type=rest",
            "--catalog",
            "uri=http://127.0.0.1:9",
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
        ],
    )
    assert result.exit_code == 1
    assert "cannot open Iceberg catalog" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"num_orders": "abc"}, "rows must be an integer, got 'abc'"),
        ({"seed": "x"}, "seed must be an integer"),
    ],
)
def test_non_numeric_parameters(params, message):
    with pytest.raises(PipelineError, match=message):
        load_pipeline(REFERENCE, params)
    assert load_pipeline(REFERENCE, {"num_orders": "5_000_000"}).sources[2].rows == 5_000_000


def test_check_runs_carry_quality_metrics(workspace):
    """Each check run's input has dataQualityMetrics for the checked columns (OpenLineage 1-0-3)."""
    catalog, store = workspace
    _run(catalog, store)
    events = [json.loads(line) for line in store.export_events()]
    checks = [
        e
        for e in events
        if e.get("job", {}).get("name") == "customer_orders_etl.quality_checks"
        and e["eventType"] == "COMPLETE"
    ]
    [event] = checks
    metrics = event["inputs"][0]["inputFacets"]["dataQualityMetrics"]
    assert metrics["rowCount"] == SMALL["num_orders"]
    order_id = metrics["columnMetrics"]["order_id"]
    assert order_id["nullCount"] == 0 and order_id["distinctCount"] == SMALL["num_orders"]
    assert order_id["min"] <= order_id["max"] and order_id["count"] == SMALL["num_orders"]
