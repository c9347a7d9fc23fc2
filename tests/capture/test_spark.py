"""Spark capture against real PySpark in local mode: events read back from a real store."""

from __future__ import annotations

import json
import uuid

import pytest

from headwater.capture.spark import SparkTracker, dataset_from_location, track
from headwater.capture.transport import make_client
from headwater.store import open_store

pytestmark = pytest.mark.slow


@pytest.fixture
def captured(spark, tmp_path):
    """A tracker writing into a fresh SQLite store; yields (tracker, events())."""
    store = open_store(f"sqlite:///{tmp_path / 'lineage.db'}")
    tracker = track(spark, make_client(store=store), namespace="tests")

    def events() -> list[dict]:
        tracker.flush()
        return [json.loads(line) for line in store.export_events()]

    yield tracker, events
    tracker.close()
    store.close()


def _name() -> str:
    return f"t_{uuid.uuid4().hex[:8]}"


def _completes(events: list[dict], output_suffix: str) -> list[dict]:
    return [
        e
        for e in events
        if e.get("eventType") == "COMPLETE"
        and any(o["name"].endswith("/" + output_suffix) for o in e.get("outputs", []))
    ]


def _lineage(event: dict) -> dict[str, set[tuple[str, str, str]]]:
    facet = event["outputs"][0]["facets"]["columnLineage"]
    return {
        name: {
            (i["name"].rsplit("/", 1)[-1], i["field"], f"{t['type']}/{t['subtype']}")
            for i in spec["inputFields"]
            for t in i["transformations"]
        }
        for name, spec in facet["fields"].items()
    }


def test_ctas_is_one_job_with_names_lineage_sql_and_statistics(
    spark, captured, openlineage_validator
):
    tracker, events = captured
    src, dst = _name(), _name()
    spark.sql(f"CREATE TABLE {src} (a INT, b STRING, c DOUBLE) USING parquet")
    spark.sql(f"INSERT INTO {src} VALUES (1, 'x', 2.0), (2, 'y', 3.5), (3, 'x', 1.0)")
    spark.sql(
        f"CREATE TABLE {dst} USING parquet AS SELECT b, SUM(a * c) AS total, sha2(b, 256) AS hb "
        f"FROM {src} WHERE a > 1 GROUP BY b"
    )
    all_events = events()
    for event in all_events:
        openlineage_validator(event)
    [complete] = _completes(all_events, dst)
    assert (
        complete["job"]["name"]
        == f"headwater_tests.execute_create_data_source_table_as_select_command.default_{dst}"
    )
    assert complete["job"]["facets"]["sql"]["query"].startswith(f"CREATE TABLE {dst}")
    [inp] = complete["inputs"]
    namespace, name = dataset_from_location(spark.conf.get("spark.sql.warehouse.dir") + "/" + src)
    assert (inp["namespace"], inp["name"]) == (namespace, name)
    assert inp["facets"]["symlinks"]["identifiers"][0]["name"] == f"default.{src}"
    out = complete["outputs"][0]
    assert out["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "CREATE"
    assert [f["name"] for f in out["facets"]["schema"]["fields"]] == ["b", "total", "hb"]
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == 2
    lineage = _lineage(complete)
    assert (src, "a", "DIRECT/AGGREGATION") in lineage["total"]
    assert (src, "c", "DIRECT/AGGREGATION") in lineage["total"]
    assert (src, "b", "DIRECT/IDENTITY") in lineage["b"]
    assert (src, "a", "INDIRECT/FILTER") in lineage["b"]
    assert (src, "b", "INDIRECT/GROUP_BY") in lineage["total"]
    masked = complete["outputs"][0]["facets"]["columnLineage"]["fields"]["hb"]["inputFields"]
    assert any(t["masking"] for i in masked for t in i["transformations"])
    start = next(
        e
        for e in all_events
        if e["eventType"] == "START" and e["run"]["runId"] == complete["run"]["runId"]
    )
    assert start["eventTime"] <= complete["eventTime"]
    assert complete["run"]["facets"]["parent"]["run"]["runId"] == tracker.run_id
    assert complete["run"]["facets"]["processing_engine"]["version"] == spark.version
    # one job per CTAS: the inner file write is folded into it
    assert not [
        e for e in all_events if e["job"]["name"].endswith(f"_relation_command.warehouse_{dst}")
    ]
    assert (
        len(
            {
                e["job"]["name"]
                for e in all_events
                if any(o["name"].endswith("/" + dst) for o in e.get("outputs", []))
            }
        )
        == 1
    )


def test_insert_into_and_overwrite(spark, captured):
    _, events = captured
    src, dst = _name(), _name()
    spark.sql(f"CREATE TABLE {src} USING parquet AS SELECT 1 AS a, 'x' AS b")
    spark.sql(f"CREATE TABLE {dst} (a INT, b STRING) USING parquet")
    spark.sql(f"INSERT INTO {dst} SELECT a + 1, upper(b) FROM {src}")
    spark.sql(f"INSERT OVERWRITE TABLE {dst} SELECT a, b FROM {src}")
    completes = _completes(events(), dst)
    assert [
        c["outputs"][0]["facets"]["lifecycleStateChange"]["lifecycleStateChange"] for c in completes
    ] == ["ALTER", "OVERWRITE"]
    assert _lineage(completes[0])["a"] == {(src, "a", "DIRECT/TRANSFORMATION")}
    assert _lineage(completes[1])["b"] == {(src, "b", "DIRECT/IDENTITY")}


def test_dataframe_api_join_window_union_explode_udf(spark, captured, tmp_path):
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    _, events = captured
    orders, customers, dst = _name(), _name(), _name()
    spark.createDataFrame(
        [(1, 10, 2.0, "a,b"), (2, 10, 3.0, "c"), (3, 20, 1.0, "d")],
        "id INT, cust INT, amount DOUBLE, tags STRING",
    ).write.saveAsTable(orders)
    spark.createDataFrame([(10, "Ada"), (20, "Alan")], "cust INT, name STRING").write.saveAsTable(
        customers
    )
    shout = F.udf(lambda s: s.upper(), "string")
    o, c = spark.table(orders), spark.table(customers)
    frame = (
        o.join(c, "cust")
        .withColumn(
            "rank", F.row_number().over(Window.partitionBy("cust").orderBy(F.desc("amount")))
        )
        .withColumn("tag", F.explode(F.split("tags", ",")))
        .select(
            "id", shout("name").alias("loud"), "rank", "tag", (F.col("amount") * 2).alias("double")
        )
    )
    frame.unionByName(frame).write.mode("overwrite").saveAsTable(dst)
    [complete] = _completes(events(), dst)
    lineage = _lineage(complete)
    assert (customers, "name", "DIRECT/TRANSFORMATION") in lineage["loud"]
    assert (orders, "amount", "INDIRECT/WINDOW") in lineage["rank"]
    assert (orders, "cust", "INDIRECT/WINDOW") in lineage["rank"]
    assert (orders, "tags", "DIRECT/TRANSFORMATION") in lineage["tag"]
    assert (orders, "amount", "DIRECT/TRANSFORMATION") in lineage["double"]
    assert (orders, "cust", "INDIRECT/JOIN") in lineage["id"]
    assert (orders, "id", "DIRECT/IDENTITY") in lineage["id"]
    assert {i["name"].rsplit("/", 1)[-1] for i in complete["inputs"]} == {orders, customers}


def test_path_writes_and_reads_are_named_by_location(spark, captured, tmp_path):
    _, events = captured
    path = tmp_path / "files" / "out"
    spark.range(5).selectExpr("id", "id * 2 AS twice").write.mode("overwrite").parquet(str(path))
    dst = _name()
    spark.read.parquet(str(path)).selectExpr("twice").write.saveAsTable(dst)
    all_events = events()
    [written] = [
        e
        for e in all_events
        if e["eventType"] == "COMPLETE" and e["outputs"][0]["name"] == str(path)
    ]
    assert written["outputs"][0]["namespace"] == "file"
    [complete] = _completes(all_events, dst)
    assert complete["inputs"][0]["name"] == str(path)
    assert _lineage(complete)["twice"] == {("out", "twice", "DIRECT/IDENTITY")}


def test_failures_emit_fail_with_the_java_error(spark, captured):
    from pyspark.sql import functions as F

    _, events = captured
    dst = _name()
    spark.sql(f"CREATE TABLE {dst} (a INT) USING parquet")
    with pytest.raises(Exception, match="TABLE_OR_VIEW_NOT_FOUND"):
        spark.sql(f"INSERT INTO {dst} SELECT a FROM no_such_table")

    def boom(value):
        raise ValueError("bad row")

    with pytest.raises(Exception, match="bad row"):
        spark.range(3).select(F.udf(boom, "int")("id").alias("a")).write.insertInto(dst)
    fails = [e for e in events() if e["eventType"] == "FAIL"]
    assert len(fails) == 2
    messages = [f["run"]["facets"]["errorMessage"]["message"] for f in fails]
    assert "TABLE_OR_VIEW_NOT_FOUND" in messages[0]
    assert "bad row" in messages[1]
    assert fails[1]["run"]["facets"]["errorMessage"]["stackTrace"]


def test_capture_errors_never_break_the_job(spark):
    class Broken:
        def emit(self, event):
            raise RuntimeError("collector down")

    tracker = SparkTracker(spark, Broken(), "tests").start()  # type: ignore[arg-type]
    try:
        dst = _name()
        spark.sql(f"CREATE TABLE {dst} USING parquet AS SELECT 1 AS a")
        tracker.flush()
        assert spark.table(dst).count() == 1
        assert any("collector down" in e for e in tracker.errors)
    finally:
        tracker.close()


def test_dataset_from_location():
    assert dataset_from_location("file:/tmp/w/t") == ("file", "/tmp/w/t")
    assert dataset_from_location("s3a://bucket/w/t") == ("s3://bucket", "w/t")
    assert dataset_from_location("hdfs://nn:8020/w/t") == ("hdfs://nn:8020", "/w/t")


def test_trackers_in_sequence_capture_each_write_once(spark, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'seq.db'}")
    dst = _name()
    for _ in range(3):
        tracker = track(spark, make_client(store=store), namespace="seq")
        spark.sql(f"DROP TABLE IF EXISTS {dst}")
        spark.sql(f"CREATE TABLE {dst} USING parquet AS SELECT 1 AS a")
        tracker.close()
        assert tracker.emitted == 1 and tracker.capture_seconds > 0
    spark.sql(f"INSERT INTO {dst} SELECT 2")  # no tracker attached: nothing is captured
    completes = [json.loads(e) for e in store.export_events()]
    completes = [e for e in completes if e.get("eventType") == "COMPLETE" and e["outputs"]]
    assert len(completes) == 3
    store.close()


def test_merge_into_lineage_and_failure(spark, captured):
    """MERGE INTO: column lineage from its analyzed plan (assignments from the source, the merge
    condition as JOIN); on Spark's own tables Spark refuses MERGE, which is captured as FAIL."""
    from headwater.sql import DatasetRef
    from headwater.sql.spark_plan import plan_lineage, table_identifier

    _, events = captured
    tgt, src = _name(), _name()
    spark.sql(f"CREATE TABLE {tgt} (id INT, amount DOUBLE, note STRING) USING parquet")
    spark.sql(f"CREATE TABLE {src} (id INT, amount DOUBLE) USING parquet")
    merge = (
        f"MERGE INTO {tgt} t USING {src} s ON t.id = s.id "
        "WHEN MATCHED AND s.amount > 0 THEN UPDATE SET amount = s.amount * 2, note = 'upd' "
        "WHEN NOT MATCHED THEN INSERT (id, amount, note) VALUES (s.id, s.amount, 'new')"
    )
    state = spark._jsparkSession.sessionState()
    analyzed = state.analyzer().execute(state.sqlParser().parsePlan(merge))
    lineage = plan_lineage(
        json.loads(analyzed.toJSON()), lambda node: DatasetRef("t", table_identifier(node) or "")
    )
    assert lineage.command == "MergeIntoTable"
    assert [d.name for d in lineage.inputs] == [f"default.{src}"]
    cols = {
        c.field: {(i.field, t.type, t.subtype) for i in c.inputs for t in i.transformations}
        for c in lineage.columns
    }
    assert set(cols) == {"id", "amount"}  # note is only ever a literal
    assert ("amount", "DIRECT", "TRANSFORMATION") in cols["amount"]
    assert ("amount", "DIRECT", "IDENTITY") in cols["amount"]
    assert ("id", "INDIRECT", "JOIN") in cols["amount"]
    assert ("amount", "INDIRECT", "CONDITIONAL") in cols["id"]
    with pytest.raises(
        Exception, match="MERGE INTO TABLE"
    ):  # Spark refuses MERGE on its own tables
        spark.sql(merge)
    [fail] = [e for e in events() if e["eventType"] == "FAIL"]
    assert fail["job"]["name"].endswith(f"execute_merge_into_table.default_{tgt}")
    assert fail["outputs"][0]["name"].endswith("/" + tgt)
    assert [i["name"].rsplit("/", 1)[-1] for i in fail["inputs"]] == [src]
