"""The reference pipeline on Spark: lineage from Spark's plans agrees with the DuckDB run's."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from headwater.capture.transport import make_client
from headwater.pipelines import REFERENCE, Runner, StepFailed, load_pipeline
from headwater.pipelines.spark_runner import SparkRunner
from headwater.store import open_store

pytestmark = pytest.mark.slow
PARAMS = {"num_customers": "60", "num_orders": "600", "num_products": "15", "seed": "11"}


def _edges(store) -> tuple[set, set]:
    """(datasets, column edges) of COMPLETE events, named by catalog table (symlinks)."""
    events = [json.loads(line) for line in store.export_events()]
    names: dict[tuple[str, str], str] = {}
    for event in events:
        for ds in event.get("inputs", []) + event.get("outputs", []) + [event.get("dataset") or {}]:
            links = (ds.get("facets") or {}).get("symlinks", {}).get("identifiers", [])
            if links:
                names[(ds["namespace"], ds["name"])] = links[0]["name"]
    datasets, edges = set(), set()
    for event in events:
        if event.get("eventType") != "COMPLETE":
            continue
        for out in event.get("outputs", []):
            target = names[(out["namespace"], out["name"])]
            datasets.add(target)
            facet = out["facets"].get("columnLineage", {"fields": {}})
            for field, spec in facet["fields"].items():
                for i in spec["inputFields"]:
                    source = names[(i["namespace"], i["name"])]
                    datasets.add(source)
                    for t in i["transformations"]:
                        edges.add((target, field, source, i["field"], t["type"], t["subtype"]))
    return datasets, edges


def test_reference_pipeline_on_spark_matches_duckdb(
    spark, workspace, tmp_path, openlineage_validator
):
    catalog, duck_store = workspace
    pipeline = load_pipeline(REFERENCE, PARAMS)
    duck = Runner(catalog, make_client(store=duck_store)).run(pipeline)
    spark_store = open_store(f"sqlite:///{tmp_path / 'spark.db'}")
    result = SparkRunner(spark, make_client(store=spark_store)).run(pipeline)
    assert [s.job for s in result.steps] == ["customer_orders_etl", "customer_revenue_aggregation"]
    assert result.steps[0].rows == 600 and result.steps[-1].rows > 0
    outcomes = lambda r: [(c.check, c.success) for s in r.steps for c in s.checks]  # noqa: E731
    assert outcomes(result) == outcomes(duck) and len(outcomes(result)) == 7
    spark_events = [json.loads(line) for line in spark_store.export_events()]
    for event in spark_events:
        openlineage_validator(event)
    check_runs = {
        e["job"]["name"]
        for e in spark_events
        if e.get("job", {}).get("name", "").endswith(".quality_checks")
    }
    assert check_runs == {
        "customer_orders_etl.quality_checks",
        "customer_revenue_aggregation.quality_checks",
    }
    duck_datasets, duck_edges = _edges(duck_store)
    spark_datasets, spark_edges = _edges(spark_store)
    assert spark_datasets == duck_datasets
    direct = {e for e in duck_edges if e[4] == "DIRECT"}
    assert {e for e in spark_edges if e[4] == "DIRECT"} == direct
    assert (
        "governance_demo.customer_revenue_summary",
        "total_profit",
        "governance_demo.products_source",
        "cost",
        "DIRECT",
        "AGGREGATION",
    ) in direct
    # INDIRECT: the same sources feed joins and group-bys (Spark's plan adds no others)
    indirect = lambda edges: {(e[0], e[2], e[3], e[5]) for e in edges if e[4] == "INDIRECT"}  # noqa: E731
    assert indirect(spark_edges) == indirect(duck_edges)
    spark_store.close()


def test_failing_step_on_spark_records_fail(spark, tmp_path):
    from dataclasses import replace

    store = open_store(f"sqlite:///{tmp_path / 'fail.db'}")
    pipeline = load_pipeline(REFERENCE, PARAMS)
    broken = replace(
        pipeline, steps=(replace(pipeline.steps[0], sql="SELECT nope FROM orders_source"),)
    )
    spark.catalog.setCurrentDatabase("default")
    with pytest.raises(StepFailed, match="customer_orders_etl"):
        SparkRunner(spark, make_client(store=store)).run(broken)
    assert spark.catalog.currentDatabase() == "default"  # the session as it was, failed or not
    events = [json.loads(line) for line in store.export_events()]
    fails = {e["job"]["name"] for e in events if e.get("eventType") == "FAIL"}
    assert fails == {"customer_orders_etl", pipeline.name}
    store.close()


def test_cli_run_engine_spark(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    args = [
        "--db",
        db,
        "--spark-conf",
        f"spark.sql.warehouse.dir={tmp_path / 'wh'}",
        "--spark-conf",
        f"spark.driver.extraJavaOptions=-Dderby.system.home={tmp_path}",
    ]
    for key, value in PARAMS.items():
        args += ["--param", f"{key}={value}"]
    done = _run_on_spark(tmp_path, args, {"SPARK_LOCAL_DIRS": str(tmp_path)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "completed" in done.stdout
    store = open_store(db)
    names = {json.loads(e)["job"]["name"] for e in store.export_events() if b'"job"' in e}
    assert {"customer_orders_etl", "customer_revenue_aggregation"} <= names
    store.close()


def test_missing_pyspark_is_a_clear_error(monkeypatch):
    from headwater.pipelines.spark_runner import spark_session
    from headwater.pipelines.spec import PipelineError

    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # import fails as if not installed
    with pytest.raises(PipelineError, match=r"pip install 'headwater\[spark\]'"):
        spark_session()


def test_missing_java_is_a_clear_cli_error(tmp_path):
    done = _run_on_spark(
        tmp_path,
        ["--db", f"sqlite:///{tmp_path / 'x.db'}"],
        {"JAVA_HOME": str(tmp_path / "no-jdk")},
        timeout=120,
    )
    assert done.returncode != 0
    assert "Java 17" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def _run_on_spark(
    tmp_path, args: list[str], env: dict[str, str], timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """``headwater run REFERENCE --engine spark ARGS`` in a subprocess, in ``tmp_path``."""
    command = [sys.executable, "-m", "headwater", "run", str(REFERENCE), "--engine", "spark"]
    return subprocess.run(
        command + args,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, **env},
        timeout=timeout,
    )
