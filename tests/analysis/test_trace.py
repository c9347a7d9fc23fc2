"""Row-level root cause on the reference pipeline: real DuckDB, real Iceberg snapshots, real store."""

import json

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from headwater.analysis import resolve_node
from headwater.analysis.trace import TraceError, trace
from headwater.capture.iceberg import IcebergReader, commit_table, open_catalog, read_table
from headwater.capture.transport import make_client
from headwater.cli.main import app
from headwater.pipelines import REFERENCE, Runner, load_pipeline
from headwater.store import open_store


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("trace")
    store = open_store(f"sqlite:///{tmp / 'h.db'}")
    catalog = open_catalog(tmp / "catalog")
    Runner(catalog, make_client(store)).run(
        load_pipeline(
            REFERENCE, {"num_orders": 400, "num_customers": 40, "num_products": 20, "seed": 11}
        )
    )
    return store, catalog, tmp


def test_negative_profit_traces_to_products_sold_at_a_loss(world):
    store, catalog, _ = world
    report = trace(
        store,
        IcebergReader(catalog),
        resolve_node(store, "customer_revenue_summary"),
        "total_profit < 0",
    )
    summary = read_table(catalog, "governance_demo.customer_revenue_summary").to_pylist()
    bad_ids = {r["customer_id"] for r in summary if r["total_profit"] < 0}
    assert report.bad_rows == len(bad_ids) > 0
    hops = {h.dataset: h for h in report.hops}
    assert set(hops) == {
        "customer_orders_staging",
        "orders_source",
        "customers_source",
        "products_source",
    }
    assert hops["customers_source"].rows == len(bad_ids)
    orders = read_table(catalog, "governance_demo.orders_source").to_pylist()
    assert hops["orders_source"].rows == sum(1 for o in orders if o["customer_id"] in bad_ids)
    (cause,) = report.root_causes
    assert cause.startswith("root cause: products_source rows where cost > price")


def test_trace_reads_the_snapshots_the_runs_read(world):
    store, catalog, _ = world
    before = trace(
        store,
        IcebergReader(catalog),
        resolve_node(store, "customer_revenue_summary"),
        "total_profit < 0",
    )
    # someone rewrites the products table afterwards: the trace must not change
    products = read_table(catalog, "governance_demo.products_source")
    commit_table(
        catalog,
        "governance_demo.products_source",
        products.set_column(4, "cost", pa.array([0.0] * products.num_rows)),
        {},
    )
    after = trace(
        store,
        IcebergReader(catalog),
        resolve_node(store, "customer_revenue_summary"),
        "total_profit < 0",
    )
    assert after.root_causes == before.root_causes
    assert [(h.dataset, h.rows) for h in after.hops] == [(h.dataset, h.rows) for h in before.hops]


def test_bad_input(world):
    store, catalog, tmp = world
    node = resolve_node(store, "customer_revenue_summary")
    with pytest.raises(TraceError, match="unknown column"):
        trace(store, IcebergReader(catalog), node, "nope < 0")
    with pytest.raises(TraceError, match="not a SQL condition"):
        trace(store, IcebergReader(catalog), node, "total_profit <")
    empty = trace(store, IcebergReader(catalog), node, "total_profit > 1e12")
    assert empty.bad_rows == 0 and empty.hops == []
    db = f"sqlite:///{tmp / 'h.db'}"
    out = CliRunner().invoke(
        app,
        [
            "trace",
            "customer_revenue_summary",
            "--where",
            "total_profit < 0",
            "--catalog-dir",
            str(tmp / "catalog"),
            "--db",
            db,
            "-f",
            "json",
        ],
    )
    assert out.exit_code == 0 and json.loads(out.stdout)["rootCauses"]
    bad = CliRunner().invoke(
        app,
        [
            "trace",
            "customer_revenue_summary",
            "--where",
            "x <",
            "--catalog-dir",
            str(tmp / "catalog"),
            "--db",
            db,
        ],
    )
    assert (
        bad.exit_code == 1 and "not a SQL condition" in bad.output and "Traceback" not in bad.output
    )


def test_failing_checks_upstream_and_blast_radius(tmp_path):
    from headwater.pipelines.spec import load_pipeline as load

    store = open_store(f"sqlite:///{tmp_path / 'q.db'}")
    catalog = open_catalog(tmp_path / "catalog")
    client = make_client(store)
    Runner(catalog, client).run(
        load_pipeline(
            REFERENCE, {"num_orders": 300, "num_customers": 30, "num_products": 15, "seed": 5}
        )
    )
    extra = {
        "name": "margins",
        "parameters": {"database_name": "governance_demo"},
        "steps": [
            {
                "job": "loss_report",
                "target": "loss_report",
                "sql": "SELECT customer_id, total_profit FROM customer_revenue_summary WHERE total_profit < 0",
                "owner": "finance-team",
            },
        ],
    }
    Runner(catalog, client).run(load(extra))
    # a check that fails on the staging table, recorded as a dataQualityAssertions facet
    strict = {
        "name": "strict",
        "parameters": {"database_name": "governance_demo"},
        "steps": [
            {
                "job": "big_orders_only",
                "target": "big_orders",
                "sql": "SELECT * FROM customer_orders_staging",
                "checks": [{"sql": "quantity > 5"}],
            }
        ],
    }
    Runner(catalog, client).run(load(strict))
    report = trace(store, IcebergReader(catalog), resolve_node(store, "big_orders"), "quantity < 3")
    assert any(c.startswith("big_orders: quantity > 5 failed") for c in report.failing_checks)
    summary = trace(
        store,
        IcebergReader(catalog),
        resolve_node(store, "customer_revenue_summary"),
        "total_profit < 0",
    )
    assert summary.blast_radius == ["loss_report (depth 1)"]
    assert summary.owners_to_warn == {"finance-team": ["dataset loss_report", "job loss_report"]}


def test_adhoc_check_is_recorded_and_seen_by_trace(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
    catalog = open_catalog(tmp_path / "catalog")
    Runner(catalog, make_client(store)).run(
        load_pipeline(
            REFERENCE, {"num_orders": 300, "num_customers": 30, "num_products": 15, "seed": 5}
        )
    )
    db = f"sqlite:///{tmp_path / 'c.db'}"
    runner = CliRunner()
    args = [
        "check",
        "governance_demo.customer_revenue_summary",
        "--catalog-dir",
        str(tmp_path / "catalog"),
        "--db",
        db,
    ]
    ok = runner.invoke(app, [*args, "--not-null", "email", "--min-rows", "1"])
    assert ok.exit_code == 0 and "passed" in ok.output
    failing = runner.invoke(app, [*args, "--sql", "total_profit > 0"])
    assert failing.exit_code == 1 and "FAILED" in failing.output
    report = trace(
        store,
        IcebergReader(catalog),
        resolve_node(store, "customer_revenue_summary"),
        "total_profit < 0",
    )
    assert any(
        c.startswith("customer_revenue_summary: total_profit > 0 failed")
        for c in report.failing_checks
    )
    assert (
        runner.invoke(
            app,
            [
                "check",
                "governance_demo.customer_revenue_summary",
                "--catalog-dir",
                str(tmp_path / "catalog"),
                "--db",
                db,
            ],
        ).exit_code
        == 1
    )
    bad_column = runner.invoke(app, [*args, "--unique", "nope"])
    assert bad_column.exit_code == 1 and "has no column nope" in bad_column.output


def test_trace_over_http_through_the_servers_catalog(world, server_factory):
    """headwater serve --catalog-dir: the API and `headwater trace --url` trace on the server."""
    import httpx

    store, catalog, tmp = world
    local = trace(
        store,
        IcebergReader(catalog),
        resolve_node(store, "customer_revenue_summary"),
        "total_profit < 0",
    ).to_json()
    db = f"sqlite:///{tmp / 'h.db'}"
    url = server_factory(db, env={"HEADWATER_CATALOG_DIR": str(tmp / "catalog")})
    answer = httpx.get(
        f"{url}/api/v1/headwater/trace",
        params={"dataset": "customer_revenue_summary", "where": "total_profit < 0"},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    remote = answer.json()

    def without_samples(report: dict) -> dict:  # sample rows hold timestamps; compare the rest
        hops = [{k: v for k, v in h.items() if k != "sample"} for h in report["hops"]]
        return {**report, "hops": hops}

    assert without_samples(remote) == without_samples(local)
    assert [len(h["sample"]) for h in remote["hops"]] == [len(h["sample"]) for h in local["hops"]]
    bad = httpx.get(
        f"{url}/api/v1/headwater/trace",
        params={"dataset": "customer_revenue_summary", "where": "total_profit <"},
        timeout=60,
    )
    assert bad.status_code == 400 and bad.json()["param"] == "where"
    missing = httpx.get(
        f"{url}/api/v1/headwater/trace", params={"dataset": "nope", "where": "a < 0"}
    )
    assert missing.status_code == 404
    out = CliRunner().invoke(
        app,
        [
            "trace",
            "customer_revenue_summary",
            "--where",
            "total_profit < 0",
            "--url",
            url,
            "-f",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["rootCauses"] == local["rootCauses"]
    table = CliRunner().invoke(
        app, ["trace", "customer_revenue_summary", "--where", "total_profit < 0", "--url", url]
    )
    assert table.exit_code == 0 and "root cause" in table.output
    no_catalog = server_factory(db)
    refused = httpx.get(
        f"{no_catalog}/api/v1/headwater/trace",
        params={"dataset": "customer_revenue_summary", "where": "total_profit < 0"},
    )
    assert refused.status_code == 409 and "--catalog-dir" in refused.json()["message"]


SHOP = """
name: shop
namespace: shop
description: revenue per customer
parameters:
  database_name: shop
sources:
  - table: orders
  - table: products
steps:
  - job: revenue
    target: revenue
    sql: |
      SELECT o.customer_id, SUM(o.quantity * p.price) AS revenue
      FROM orders o JOIN products p ON o.product_id = p.product_id
      GROUP BY o.customer_id
"""


@pytest.mark.parametrize(
    ("defect", "where", "cause"),
    [
        ("negative", "revenue < 0", "root cause: orders rows where quantity < 0"),
        ("null", "revenue IS NULL", "root cause: products rows where price IS NULL"),
    ],
)
def test_root_causes_beyond_column_pairs(tmp_path, defect, where, cause):
    """Negative quantities and missing prices are found in the data, not only `a > b` pairs."""
    catalog = open_catalog(tmp_path / "catalog")
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    n = 300
    quantity = [(-5 if defect == "negative" and i % 30 == 0 else 1 + i % 4) for i in range(n)]
    orders = pa.table(
        {
            "order_id": list(range(n)),
            "customer_id": [i % 30 if i % 30 else 0 for i in range(n)],
            "product_id": [(i * 7) % 20 if i % 30 else 19 for i in range(n)],
            "quantity": quantity,
        }
    )
    prices = [float(5 + p) for p in range(20)]
    if defect == "null":
        prices[19] = None
    products = pa.table({"product_id": list(range(20)), "price": pa.array(prices, pa.float64())})
    commit_table(catalog, "shop.orders", orders, {})
    commit_table(catalog, "shop.products", products, {})
    spec = tmp_path / "shop.yaml"
    spec.write_text(SHOP)
    Runner(catalog, make_client(store)).run(load_pipeline(spec, {}))
    report = trace(store, IcebergReader(catalog), resolve_node(store, "revenue"), where)
    assert report.bad_rows == 1
    assert [c.split(" (")[0] for c in report.root_causes] == [cause]
    store.close()


REGIONAL = """
name: regional
namespace: shop
description: revenue per customer and region
parameters:
  database_name: shop
sources:
  - table: orders
steps:
  - job: regional_revenue
    target: regional_revenue
    sql: |
      SELECT customer_id, region, SUM(quantity * 2.0) AS revenue
      FROM orders
      GROUP BY customer_id, region
"""


def test_a_step_grouped_by_two_keys_is_traced_by_both(tmp_path):
    """Bad rows keyed by (customer_id, region) are followed back by the pair: a customer's rows
    in its other region, fine, are not among the contributing rows."""
    catalog = open_catalog(tmp_path / "catalog")
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    n = 200
    customer = [i % 10 for i in range(n)]
    region = ["north" if i % 20 < 10 else "south" for i in range(n)]
    quantity = [
        -3 if (c, r) == (3, "north") else 1 + i % 3
        for i, (c, r) in enumerate(zip(customer, region, strict=True))
    ]
    orders = pa.table(
        {
            "order_id": list(range(n)),
            "customer_id": customer,
            "region": region,
            "quantity": quantity,
        }
    )
    commit_table(catalog, "shop.orders", orders, {})
    spec = tmp_path / "regional.yaml"
    spec.write_text(REGIONAL)
    Runner(catalog, make_client(store)).run(load_pipeline(spec, {}))
    report = trace(
        store, IcebergReader(catalog), resolve_node(store, "regional_revenue"), "revenue < 0"
    )
    assert report.bad_rows == 1
    (hop,) = report.hops
    expected = sum(1 for c, r in zip(customer, region, strict=True) if (c, r) == (3, "north"))
    assert (hop.dataset, hop.rows, hop.total) == ("orders", expected, n)
    assert {(r["customer_id"], r["region"]) for r in hop.sample} == {(3, "north")}
    assert [c.split(" (")[0] for c in report.root_causes] == [
        "root cause: orders rows where quantity < 0"
    ]
    store.close()


def test_trace_by_key(world):
    """--key customer_id=N traces one customer's row; keys and --where combine; bad keys are clear."""
    from headwater.analysis.trace import bad_rows_condition

    store, catalog, tmp = world
    summary = read_table(catalog, "governance_demo.customer_revenue_summary").to_pylist()
    worst = min(summary, key=lambda r: r["total_profit"])
    db = f"sqlite:///{tmp / 'h.db'}"
    args = ["trace", "customer_revenue_summary", "--catalog-dir", str(tmp / "catalog"), "--db", db]
    out = CliRunner().invoke(
        app, [*args, "--key", f"customer_id={worst['customer_id']}", "-f", "json"]
    )
    assert out.exit_code == 0, out.output
    report = json.loads(out.stdout)
    assert report["badRows"] == 1
    assert report["where"] == f'"customer_id" = {worst["customer_id"]}'
    assert bad_rows_condition("total_profit < 0", ["state=CA"]) == (
        "total_profit < 0 AND \"state\" = 'CA'"
    )
    bad = CliRunner().invoke(app, [*args, "--key", "customer_id"])
    assert bad.exit_code == 1 and "column=value" in bad.output and "Traceback" not in bad.output
    none = CliRunner().invoke(app, args)
    assert none.exit_code == 1 and "--where" in none.output


UNION_SHOP = """
name: channels
namespace: shop
description: orders from two channels
parameters:
  database_name: shop
sources:
  - table: web_orders
  - table: store_orders
steps:
  - job: all_orders
    target: all_orders
    sql: |
      SELECT order_id, amount FROM web_orders
      UNION ALL
      SELECT order_no AS order_id, total AS amount FROM store_orders
"""


def test_trace_through_union_all(tmp_path):
    """Each branch of a UNION is traced: bad rows go back to the branch (and source) they came from."""
    catalog = open_catalog(tmp_path / "catalog")
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    web = pa.table(
        {"order_id": list(range(100)), "amount": [-1.0 if i % 10 == 0 else 5.0 for i in range(100)]}
    )
    shop = pa.table({"order_no": list(range(1000, 1050)), "total": [7.0] * 50})
    commit_table(catalog, "shop.web_orders", web, {})
    commit_table(catalog, "shop.store_orders", shop, {})
    spec = tmp_path / "union.yaml"
    spec.write_text(UNION_SHOP)
    Runner(catalog, make_client(store)).run(load_pipeline(spec, {}))
    report = trace(store, IcebergReader(catalog), resolve_node(store, "all_orders"), "amount < 0")
    assert report.bad_rows == 10
    hops = {h.dataset: h.rows for h in report.hops}
    assert hops == {"web_orders": 10, "store_orders": 0}
    assert [c.split(" (")[0] for c in report.root_causes] == [
        "root cause: web_orders rows where amount < 0"
    ]
    store.close()


def test_adhoc_freshness_and_referential_checks(world):
    """headwater check --fresh / --references on the reference pipeline's tables."""
    store, catalog, tmp = world
    args = [
        "check",
        "governance_demo.orders_source",
        "--catalog-dir",
        str(tmp / "catalog"),
        "--db",
        f"sqlite:///{tmp / 'h.db'}",
    ]
    runner = CliRunner()
    ok = runner.invoke(
        app, [*args, "--references", "customer_id=governance_demo.customers_source.customer_id"]
    )
    assert ok.exit_code == 0 and "passed" in ok.output, ok.output
    stale = runner.invoke(
        app, [*args, "--fresh", "order_date=1d"]
    )  # generated dates are in the past
    assert stale.exit_code == 1 and "FAILED" in stale.output and "days old" in stale.output
    bad = runner.invoke(app, [*args, "--fresh", "order_date=soon"])
    assert bad.exit_code == 1 and "90d" in bad.output and "Traceback" not in bad.output
    wrong = runner.invoke(app, [*args, "--references", "customer_id"])
    assert wrong.exit_code == 1 and "must look like" in wrong.output


def test_trace_as_of_follows_the_runs_and_snapshots_of_that_time(tmp_path):
    """Two runs with different data: --as-of between them traces the first run's rows."""
    import time
    from datetime import UTC, datetime

    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    catalog = open_catalog(tmp_path / "catalog")
    params = {"num_orders": 300, "num_customers": 30, "num_products": 15}
    Runner(catalog, make_client(store)).run(load_pipeline(REFERENCE, {**params, "seed": 1}))
    first = read_table(catalog, "governance_demo.customer_revenue_summary").to_pylist()
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    Runner(catalog, make_client(store)).run(load_pipeline(REFERENCE, {**params, "seed": 2}))
    second = read_table(catalog, "governance_demo.customer_revenue_summary").to_pylist()
    negative = lambda rows: sum(1 for r in rows if r["total_profit"] < 0)  # noqa: E731
    assert negative(first) != negative(second)
    node = resolve_node(store, "customer_revenue_summary")
    then = trace(store, IcebergReader(catalog), node, "total_profit < 0", between)
    now = trace(store, IcebergReader(catalog), node, "total_profit < 0")
    assert (then.bad_rows, now.bad_rows) == (negative(first), negative(second))
    assert then.root_causes and then.root_causes[0].startswith("root cause: products_source")
    from headwater.analysis.trace import TraceError

    with pytest.raises(TraceError, match="no version as of"):
        trace(
            store,
            IcebergReader(catalog),
            node,
            "total_profit < 0",
            datetime(2000, 1, 1, tzinfo=UTC),
        )
    out = CliRunner().invoke(
        app,
        [
            "trace",
            "customer_revenue_summary",
            "--where",
            "total_profit < 0",
            "--as-of",
            between.isoformat(),
            "--catalog-dir",
            str(tmp_path / "catalog"),
            "--db",
            f"sqlite:///{tmp_path / 'h.db'}",
            "-f",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["badRows"] == negative(first)
    store.close()


def test_window_step_falls_back_to_column_level(tmp_path):
    """A window function cannot be inverted: the hop says so and names the feeding columns."""
    catalog = open_catalog(tmp_path / "catalog")
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    commit_table(
        catalog,
        "shop.web_orders",
        pa.table({"order_id": [1, 2, 3], "amount": [5.0, -20.0, 4.0]}),
        {},
    )
    spec = tmp_path / "window.yaml"
    spec.write_text(
        UNION_SHOP.replace(
            "UNION ALL\n      SELECT order_no AS order_id, total AS amount FROM store_orders\n", ""
        )
        .replace("  - table: store_orders\n", "")
        .replace(
            "SELECT order_id, amount FROM web_orders",
            "SELECT order_id, SUM(amount) OVER (ORDER BY order_id) AS running FROM web_orders",
        )
    )
    Runner(catalog, make_client(store)).run(load_pipeline(spec, {}))
    report = trace(store, IcebergReader(catalog), resolve_node(store, "all_orders"), "running < 0")
    assert report.bad_rows == 2
    [hop] = report.hops
    assert "cannot invert" in hop.note and "web_orders.amount" in hop.note
    store.close()
