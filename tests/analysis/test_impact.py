"""Impact analysis on the reference pipeline's real lineage (DuckDB + Iceberg run, real store)."""

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headwater.analysis import AmbiguousNode, impact, resolve_node
from headwater.api import create_app
from headwater.api.auth import ApiKeys
from headwater.capture.iceberg import open_catalog
from headwater.capture.transport import make_client
from headwater.cli.main import app
from headwater.model import FieldId, JobId
from headwater.pipelines import REFERENCE, Runner, load_pipeline
from headwater.store import NotFound, open_store
from tampering import copy_sqlite_store, edit_body, log_engine


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("impact")
    db = f"sqlite:///{tmp / 'h.db'}"
    store = open_store(db)
    Runner(open_catalog(tmp / "catalog"), make_client(store)).run(
        load_pipeline(REFERENCE, {"num_orders": 200, "num_customers": 30, "num_products": 12})
    )
    yield store, db
    store.close()


def test_resolve_names(demo):
    store, _ = demo
    node = resolve_node(store, "products_source.cost")
    assert (
        isinstance(node, FieldId)
        and node.field == "cost"
        and node.dataset.name.endswith("/products_source")
    )
    assert resolve_node(store, "customer_revenue_summary").name.endswith(
        "/customer_revenue_summary"
    )
    with pytest.raises(NotFound, match="no dataset or column matches"):
        resolve_node(store, "nope.nothing")
    with pytest.raises(NotFound):
        resolve_node(store, "customer")  # a prefix is not a name


def test_ambiguous_names_offer_candidates(tmp_path):
    from factories import dataset, run_event

    store = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    store.ingest(
        run_event(
            outputs=[
                dataset("orders", namespace="postgres://a:5432"),
                dataset("sales.orders", namespace="bigquery"),
            ]
        )
    )
    with pytest.raises(AmbiguousNode) as info:
        resolve_node(store, "orders")
    assert sorted(info.value.candidates) == [
        "dataset:bigquery:sales.orders",
        "dataset:postgres://a:5432:orders",
    ]
    assert resolve_node(store, "sales.orders").name == "sales.orders"


def test_drop_cost_breaks_profit_with_chain(demo):
    store, _ = demo
    report = impact(store, resolve_node(store, "products_source.cost"), change="drop")
    fields = {a.field: a for a in report.affected}
    assert {"total_cost", "total_profit", "profit_margin_pct"} <= set(fields)
    assert fields["total_profit"].kind == "DIRECT" and fields["total_profit"].depth == 1
    assert fields["total_cost"].chain.startswith(
        "products_source.cost -> customer_revenue_summary.total_cost (ROUND(SUM(co.quantity * p.cost), 2))"
    )
    assert not report.to_json()["safe"] and "breaks 3 downstream columns" in report.verdict
    assert report.owners == {
        "analytics-team": ["dataset customer_revenue_summary", "job customer_revenue_aggregation"]
    }


def test_impact_edges_draw_the_affected_graph(demo):
    store, _ = demo

    def short(node_id):
        return node_id.rsplit("/", 1)[-1]

    quantity = impact(store, resolve_node(store, "orders_source.quantity")).to_json()
    edges = {(short(e["source"]), short(e["target"]), e["kind"]) for e in quantity["edges"]}
    assert ("orders_source:quantity", "customer_orders_staging:quantity", "DIRECT") in edges
    assert (
        "customer_orders_staging:quantity",
        "customer_revenue_summary:total_profit",
        "DIRECT",
    ) in edges
    # every edge joins the changed column and affected columns only
    ends = {e["source"] for e in quantity["edges"]} | {e["target"] for e in quantity["edges"]}
    affected = {
        f"datasetField:{a['namespace']}:{a['dataset']}:{a['field']}" for a in quantity["affected"]
    }
    assert ends == affected | {quantity["node"]}
    key = impact(store, resolve_node(store, "products_source.product_id")).to_json()
    assert key["edges"] and {e["kind"] for e in key["edges"]} == {"INDIRECT"}
    tables = impact(store, resolve_node(store, "customers_source")).to_json()
    assert sorted((short(e["source"]), short(e["target"])) for e in tables["edges"]) == [
        ("customer_orders_staging", "customer_revenue_summary"),
        ("customers_source", "customer_orders_staging"),
    ]


def test_type_change_of_a_join_key_only_affects_indirectly(demo):
    store, _ = demo
    report = impact(store, resolve_node(store, "products_source.product_id"), change="type")
    assert report.affected and all(a.kind == "INDIRECT" for a in report.affected)
    assert report.breaking == () and report.verdict.startswith(
        "safe to type products_source.product_id"
    )


def test_transitive_and_safe_drop(demo):
    store, _ = demo
    quantity = impact(store, resolve_node(store, "orders_source.quantity"), change="rename")
    deep = {
        (a.dataset.name.rsplit("/", 1)[-1], a.field): a.depth
        for a in quantity.affected
        if a.kind == "DIRECT"
    }
    assert (
        deep[("customer_orders_staging", "quantity")] == 1
        and deep[("customer_revenue_summary", "total_profit")] == 2
    )
    leaf = impact(
        store, resolve_node(store, "customer_revenue_summary.total_profit"), change="drop"
    )
    assert leaf.affected == () and leaf.verdict.startswith("safe to drop")


def test_dataset_impact(demo):
    store, _ = demo
    report = impact(store, resolve_node(store, "customers_source"))
    names = [(a.dataset.name.rsplit("/", 1)[-1], a.depth) for a in report.affected]
    assert names == [("customer_orders_staging", 1), ("customer_revenue_summary", 2)]
    assert (
        report.affected[1].chain
        == "customers_source -> job customer_orders_etl -> customer_orders_staging -> job customer_revenue_aggregation -> customer_revenue_summary"
    )
    with pytest.raises(NotFound):
        impact(store, JobId("headwater", "customer_orders_etl"))


def test_cli_and_api(demo):
    store, db = demo
    out = CliRunner().invoke(
        app, ["impact", "products_source.cost", "--change", "drop", "--db", db, "-f", "json"]
    )
    assert out.exit_code == 0 and json.loads(out.stdout)["safe"] is False
    table = CliRunner().invoke(
        app, ["impact", "products_source.cost", "--db", db], terminal_width=200
    )
    assert "total_profit" in table.output and "analytics-team" in table.output
    bad = CliRunner().invoke(app, ["impact", "nope.nothing", "--db", db])
    assert bad.exit_code == 1 and "no dataset or column matches" in bad.output
    client = TestClient(create_app(store, api_keys=ApiKeys({})))
    r = client.get(
        "/api/v1/headwater/impact", params={"nodeId": "products_source.cost", "change": "type"}
    )
    assert r.status_code == 200 and r.json()["safe"] is False
    assert (
        client.get("/api/v1/headwater/impact", params={"nodeId": "nope.nothing"}).status_code == 404
    )
    assert (
        client.get(
            "/api/v1/headwater/impact",
            params={"nodeId": "products_source.cost", "change": "explode"},
        ).status_code
        == 400
    )


def test_audit_verify_detects_tampering(demo, tmp_path):

    import sqlalchemy

    _, db = demo
    ok = CliRunner().invoke(app, ["audit", "verify", "--db", db])
    assert ok.exit_code == 0 and "chain verified" in ok.output
    copy = tmp_path / "tampered.db"
    copy_sqlite_store(db.removeprefix("sqlite:///"), copy)
    engine = log_engine(copy)
    edit_body(engine, 5, "customer", "kustomer")
    bad = CliRunner().invoke(app, ["audit", "verify", "--db", f"sqlite:///{copy}"])
    assert (
        bad.exit_code == 1 and "chain broken at event 5" in bad.output and "altered" in bad.output
    )
    # now also drop the newest event (from the log's file) and what was projected of it
    with engine.begin() as conn:
        newest = conn.execute(sqlalchemy.text("SELECT MAX(id) FROM events")).scalar()
        conn.execute(sqlalchemy.text("DELETE FROM events WHERE id = :id"), {"id": newest})
    with sqlalchemy.create_engine(f"sqlite:///{copy}").begin() as conn:
        for sql in (
            "DELETE FROM run_facets WHERE event_id = :id",
            "DELETE FROM quality_assertions WHERE event_id = :id",
        ):
            conn.execute(sqlalchemy.text(sql), {"id": newest})
    edit_body(engine, 5, "kustomer", "customer")  # undo the edit: only the missing tail is wrong
    cut = CliRunner().invoke(app, ["audit", "verify", "--db", f"sqlite:///{copy}"])
    assert cut.exit_code == 1 and "newest events were removed" in cut.output, cut.output


def test_retention_keeps_lineage_and_a_verifiable_chain(tmp_path):
    from factories import dataset, run_event

    db = f"sqlite:///{tmp_path / 'r.db'}"
    store = open_store(db)
    store.ingest(run_event(outputs=[dataset("old")], at=0))  # 2025-01-17
    store.ingest(run_event(outputs=[dataset("older")], at=1))
    import datetime as dt

    recent = run_event(outputs=[dataset("new")])
    recent["eventTime"] = dt.datetime.now(dt.UTC).isoformat()
    store.ingest(recent)
    runner = CliRunner()
    dry = runner.invoke(app, ["retention", "--older-than", "30d", "--db", db])
    assert (
        dry.exit_code == 0 and "2 events older than" in dry.output and store.list_events()[1] == 3
    )
    assert runner.invoke(app, ["retention", "--older-than", "soon", "--db", db]).exit_code == 1
    done = runner.invoke(app, ["retention", "--older-than", "30d", "--yes", "--db", db])
    assert done.exit_code == 0 and "pruned the bodies of 2 events" in done.output
    assert store.list_events()[1] == 1 and len(list(store.export_events())) == 1
    assert (
        store.get_dataset(
            __import__("headwater.model", fromlist=["DatasetId"]).DatasetId("warehouse", "old")
        )["name"]
        == "old"
    )
    verify = runner.invoke(app, ["audit", "verify", "--db", db])
    assert verify.exit_code == 0 and "2 pruned by retention" in verify.output


def test_lineage_cli_accepts_names(demo):
    _, db = demo
    out = CliRunner().invoke(
        app, ["lineage", "customers_source", "--downstream", "-f", "json", "--db", db]
    )
    ids = {n["id"] for n in json.loads(out.stdout)["graph"]}
    assert any(i.endswith("/customer_revenue_summary") for i in ids)
    col = CliRunner().invoke(
        app, ["lineage", "customer_revenue_summary.total_profit", "-f", "json", "--db", db]
    )
    assert any(n["id"].endswith(":total_profit") for n in json.loads(col.stdout)["graph"])


def test_impact_as_of_follows_the_job_version_of_that_time(tmp_path):
    """A job that switched its input: impact as of before the switch still names it."""
    from datetime import timedelta

    from factories import T0, column_lineage, dataset, run_event
    from headwater.model import parse_node_id

    store = open_store(f"sqlite:///{tmp_path / 'asof.db'}")
    for source, at in (("a", 0), ("b", 100)):
        cll = column_lineage({"v": [(f"warehouse:{source}", "x", "DIRECT", "IDENTITY")]})
        store.ingest(
            run_event(
                job="switcher",
                inputs=[dataset(source)],
                outputs=[dataset("out", columnLineage=cll)],
                at=at,
            )
        )
    field_a = parse_node_id("datasetField:warehouse:a:x")
    then = impact(store, field_a, as_of=T0 + timedelta(seconds=50), change="drop")
    assert [(a.dataset.name, a.field) for a in then.affected] == [("out", "v")]
    assert not then.to_json()["safe"]
    assert impact(store, field_a, change="drop").affected == ()
    table_then = impact(
        store, parse_node_id("dataset:warehouse:a"), as_of=T0 + timedelta(seconds=50)
    )
    assert [a.dataset.name for a in table_then.affected] == ["out"]
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'asof.db'}"
    out = runner.invoke(
        app,
        [
            "impact",
            "datasetField:warehouse:a:x",
            "--db",
            db,
            "--as-of",
            (T0 + timedelta(seconds=50)).isoformat(),
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    assert [a["field"] for a in json.loads(out.output)["affected"]] == ["v"]
    bad = runner.invoke(
        app, ["impact", "datasetField:warehouse:a:x", "--db", db, "--as-of", "soon"]
    )
    assert bad.exit_code != 0 and "--as-of" in bad.output and "Traceback" not in bad.output
    client = TestClient(create_app(store))
    answer = client.get(
        "/api/v1/headwater/impact",
        params={
            "nodeId": "datasetField:warehouse:a:x",
            "asOf": (T0 + timedelta(seconds=50)).isoformat(),
        },
    )
    assert answer.status_code == 200 and len(answer.json()["affected"]) == 1
    wrong = client.get(
        "/api/v1/headwater/impact", params={"nodeId": "datasetField:warehouse:a:x", "asOf": "soon"}
    )
    assert wrong.status_code == 422 and "asOf" in wrong.text
    store.close()


def test_a_value_path_through_a_field_first_reached_by_a_filter_is_direct(tmp_path):
    """a.x filters b.p (one edge) and flows into b.p through b.q (two edges); b.p feeds c.z.
    c.z consumes a.x's value along a.x -> b.q -> b.p -> c.z, so a type change breaks it. A
    level-by-level walk found b.p INDIRECT first and, depending on the database's row order,
    could follow it as INDIRECT and call the change safe."""
    from factories import column_lineage, dataset, run_event
    from headwater.model import DatasetId

    store = open_store(f"sqlite:///{tmp_path / 'paths.db'}")
    steps = column_lineage(
        {
            "q": [("warehouse:a", "x", "DIRECT", "IDENTITY")],
            "p": [("warehouse:a", "x", "INDIRECT", "FILTER")],
        }
    )
    store.ingest(
        run_event(job="one", inputs=[dataset("a")], outputs=[dataset("b", columnLineage=steps)])
    )
    inner = column_lineage({"p": [("warehouse:b", "q", "DIRECT", "TRANSFORMATION")]})
    store.ingest(
        run_event(
            job="two", inputs=[dataset("b")], outputs=[dataset("b", columnLineage=inner)], at=1
        )
    )
    last = column_lineage({"z": [("warehouse:b", "p", "DIRECT", "IDENTITY")]})
    store.ingest(
        run_event(
            job="three", inputs=[dataset("b")], outputs=[dataset("c", columnLineage=last)], at=2
        )
    )
    report = impact(store, FieldId(DatasetId("warehouse", "a"), "x"), change="type")
    got = {(a.dataset.name, a.field): (a.depth, a.kind, a.chain) for a in report.affected}
    assert got == {
        ("b", "q"): (1, "DIRECT", "a.x -> b.q (IDENTITY(x))"),
        ("b", "p"): (2, "DIRECT", "a.x -> b.q (IDENTITY(x)) -> p (TRANSFORMATION(q))"),
        ("c", "z"): (
            3,
            "DIRECT",
            "a.x -> b.q (IDENTITY(x)) -> p (TRANSFORMATION(q)) -> c.z (IDENTITY(p))",
        ),
    }
    assert not report.to_json()["safe"] and report.jobs == (
        "pipelines:one",
        "pipelines:three",
        "pipelines:two",
    )
    store.close()
