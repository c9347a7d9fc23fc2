"""Root cause, audit and diff views in real Chromium against a real server."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import httpx
import pytest

from headwater.capture.quality import emit_check_run
from headwater.capture.transport import make_client
from headwater.store import open_store
from tampering import copy_sqlite_store, edit_body, log_engine

pytestmark = pytest.mark.e2e


@dataclass
class CatalogServer:
    """A server that can read rows: its URL and where the reference tables live."""

    url: str
    warehouse: str

    def dataset(self, table: str) -> str:
        """The dataset node id of a reference table."""
        return f"dataset:file:{self.warehouse}/{table}"


@pytest.fixture(scope="module")
def catalog_server(lineage_db: tuple[Path, str, str], serve: Any) -> Iterator[CatalogServer]:
    """The reference store served with the reference pipeline's Iceberg catalog (trace reads rows)."""
    db, warehouse, _ = lineage_db
    with serve(db, {"HEADWATER_CATALOG_DIR": str(db.parent / "catalog")}) as url:
        yield CatalogServer(url, warehouse)


def _query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def test_trace_finds_the_root_cause_from_the_dataset_page(catalog_server, page, screenshot):
    url = catalog_server.url
    name = quote(f"{catalog_server.warehouse}/customer_revenue_summary", safe="")
    page.goto(f"{url}/datasets/file/{name}")
    page.click("text=Trace bad rows")
    page.wait_for_selector("form.impact-form")
    assert urlparse(page.url).path == "/trace"
    assert page.input_value("input[name=dataset]") == catalog_server.dataset(
        "customer_revenue_summary"
    )
    page.fill("input[name=where]", "total_profit < 0")
    page.click("form.impact-form button[type=submit]")
    page.wait_for_selector(".root-cause")
    assert _query(page)["where"] == ["total_profit < 0"]
    cause = page.inner_text(".root-causes")
    assert "root cause: products_source rows where cost > price" in cause
    assert "of customer_revenue_summary match total_profit < 0" in page.inner_text("p.verdict")
    hops = page.inner_text("table.hops")
    for table in (
        "customer_orders_staging",
        "orders_source",
        "customers_source",
        "products_source",
    ):
        assert table in hops
    assert "customer_revenue_aggregation" in hops
    # sample rows open on demand
    first = page.locator("table.hops details.sample").first
    assert not first.locator("table.sample-rows").is_visible()
    first.locator("summary").click()
    assert first.locator("table.sample-rows").is_visible()
    for heading in ("Failing checks upstream", "Blast radius downstream", "Owners to warn"):
        assert heading in page.inner_text("main")
    screenshot(page, "trace")
    # a reload reproduces it; the back button returns to the dataset page
    page.reload()
    page.wait_for_selector(".root-cause")
    page.go_back()
    page.wait_for_selector("form.impact-form")
    page.go_back()
    page.wait_for_selector("header.page-header h1")
    assert page.inner_text("header.page-header h1") == "customer_revenue_summary"


def test_trace_errors_are_readable(catalog_server, lineage_server, page):
    # no catalog on the server: its 409 message
    page.goto(
        lineage_server.url + "/trace?dataset=customer_revenue_summary&where=total_profit%20%3C%200"
    )
    box = page.wait_for_selector(".error")
    text = box.inner_text()
    assert "HTTP 409" in text and "--catalog-dir" in text
    # a condition naming an unknown column: the 400 message names the columns
    page.goto(catalog_server.url + "/trace?dataset=customer_revenue_summary&where=nope%20%3E%201")
    text = page.wait_for_selector(".error").inner_text()
    assert "HTTP 400" in text and "nope" in text
    # as of a time before anything ran: the dataset had no version then
    page.goto(
        catalog_server.url
        + "/trace?dataset=customer_revenue_summary&where=total_profit%20%3C%200&asOf=2000-01-01T00:00:00Z"
    )
    text = page.wait_for_selector(".error").inner_text()
    assert "no version as of" in text
    assert page.input_value("input.asof-input") == "2000-01-01T00:00:00Z"


def test_audit_filters_are_in_the_url_and_rows_link_to_runs(lineage_server, page, screenshot):
    url = lineage_server.url
    page.goto(url + "/audit")
    page.wait_for_selector("table.audit")
    everything = page.locator("table.audit tbody tr").count()
    jobs = page.eval_on_selector_all(
        "table.audit tbody tr td:nth-child(2)", "c => c.map(x => x.innerText)"
    )
    assert {"customer_orders_etl", "customer_revenue_aggregation", "broken_step"} <= set(jobs)
    assert "SQL" in page.inner_text("table.audit thead")
    page.fill("input[name=job]", "broken_step")
    page.click("form.audit-form button[type=submit]")
    page.wait_for_function("() => location.search.includes('job=broken_step')")
    page.wait_for_selector("p.count:text-is('1 run')")  # the new answer, not the loading state
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 1 < everything
    assert "FAILED" in rows.first.inner_text()
    screenshot(page, "audit")
    rows.first.locator("td:first-child a").click()
    page.wait_for_selector("header.page-header h1")
    assert urlparse(page.url).path == f"/runs/{lineage_server.failed_run}"
    page.go_back()
    page.wait_for_selector("table.audit")
    assert page.input_value("input[name=job]") == "broken_step"
    assert page.locator("table.audit tbody tr").count() == 1
    # a time window after every run: none; the dataset filter reaches the API
    page.goto(url + "/audit?since=2999-01-01T00:00:00Z")
    page.wait_for_selector("text=No runs match these filters.")
    page.goto(url + "/audit?dataset=products_source")
    page.wait_for_selector("table.audit")
    jobs = page.eval_on_selector_all(
        "table.audit tbody tr td:nth-child(2)", "c => c.map(x => x.innerText)"
    )
    assert set(jobs) == {"customer_revenue_aggregation"}
    # from a dataset page and a job page
    name = quote(f"{lineage_server.warehouse}/products_source", safe="")
    page.goto(f"{url}/datasets/file/{name}")
    page.click("nav.actions >> text=Audit trail")
    page.wait_for_selector("table.audit")
    assert _query(page)["dataset"] == [f"file:{lineage_server.warehouse}/products_source"]
    jobs = page.eval_on_selector_all(
        "table.audit tbody tr td:nth-child(2)", "c => c.map(x => x.innerText)"
    )
    assert set(jobs) == {"customer_revenue_aggregation"}
    page.goto(f"{url}/jobs/headwater/customer_orders_etl")
    page.click("nav.actions >> text=Audit trail")
    page.wait_for_selector("table.audit")
    jobs = page.eval_on_selector_all(
        "table.audit tbody tr td:nth-child(2)", "c => c.map(x => x.innerText)"
    )
    assert set(jobs) == {"customer_orders_etl"}
    # a bad time is the API's readable 422
    page.goto(url + "/audit?since=yesterday")
    text = page.wait_for_selector(".error").inner_text()
    assert "HTTP 422" in text and "since: 'yesterday' is not an ISO 8601 date-time" in text


def test_diff_shows_added_edges_and_coloured_sql(lineage_server, page, screenshot):
    url = lineage_server.url
    run = httpx.get(f"{url}/api/v1/runs/{lineage_server.failed_run}").json()
    started = datetime.fromisoformat(run["startedAt"].replace("Z", "+00:00"))
    before = (started - timedelta(milliseconds=1)).isoformat().replace("+00:00", "Z")
    page.goto(f"{url}/diff?from={quote(before)}")
    page.wait_for_selector(".diff-result")
    edges = page.inner_text(".diff-edges ul.added")
    assert "customer_orders_staging -> broken_step" in edges
    sql = page.inner_text(".diff-sql")
    assert "broken_step" in sql
    added = page.eval_on_selector_all(
        ".diff-sql pre.diff span.add", "s => s.map(x => x.innerText.trim())"
    )
    assert "+SELECT no_such_column FROM customer_orders_staging" in added
    colour = page.eval_on_selector(".diff-sql pre.diff span.add", "s => getComputedStyle(s).color")
    assert colour == "rgb(22, 101, 52)"
    screenshot(page, "diff")
    # the form: an empty window changes nothing; the back button returns to the first diff
    page.fill("input[name=from]", "2999-01-01T00:00:00")
    page.click("form.audit-form button[type=submit]")
    page.wait_for_selector("text=Nothing changed in the lineage.")
    page.go_back()
    page.wait_for_selector(".diff-edges ul.added")
    # a preset: since a day ago, the whole pipeline is new
    page.click("text=a day ago")
    page.wait_for_function("() => new URLSearchParams(location.search).get('from') !== null")
    page.wait_for_selector(".diff-edges ul.added")
    assert "customer_orders_etl -> customer_orders_staging" in page.inner_text(".diff-edges")
    # a bad time is the API's readable 422
    page.goto(f"{url}/diff?from=not-a-time")
    assert "is not an ISO 8601 date-time" in page.wait_for_selector(".error").inner_text()


def _copy_of(db: Path, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A copy of the reference store, for a server that changes or breaks it."""
    copy = tmp_path_factory.mktemp(name) / "headwater.db"
    copy_sqlite_store(db, copy)
    return copy


@dataclass
class _Failed:
    check: str
    success: bool
    column: str | None


@pytest.fixture(scope="module")
def checked_server(
    lineage_db: tuple[Path, str, str], serve: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CatalogServer]:
    """A copy of the reference store where the latest check of customer_orders_staging failed."""
    db, warehouse, _ = lineage_db
    copy = _copy_of(db, tmp_path_factory, "checked")
    store = open_store(f"sqlite:///{copy}")
    try:
        emit_check_run(
            make_client(store=store),
            "headwater",
            "customer_orders_etl.quality_checks",
            ("file", f"{warehouse}/customer_orders_staging", {}),
            [
                _Failed("not_null(order_id)", True, "order_id"),
                _Failed("row_count >= 1000", False, None),
            ],
        )
    finally:
        store.close()
    with serve(copy) as url:
        yield CatalogServer(url, warehouse)


def test_graph_colours_pii_and_failing_checks(checked_server, page, screenshot):
    # from the checked dataset: its check job is downstream of it, so in the graph
    node = quote(checked_server.dataset("customer_orders_staging"), safe="")
    page.goto(f"{checked_server.url}/lineage?node={node}&depth=3")
    page.wait_for_function(
        "() => window.headwaterGraph && window.headwaterGraph.nodes().length > 0"
    )
    status = page.evaluate(
        """() => Object.fromEntries(window.headwaterGraph.nodes('[kind = "DATASET"]').map(n =>
             [n.data('label'), [n.data('pii'), n.data('checkFailed'), n.style('background-color'),
              n.style('border-style')]]))"""
    )
    assert status["customers_source"][0] is True  # its tags facet declares PII columns
    assert status["customers_source"][2] == "rgb(243,232,255)"
    for table in ("orders_source", "customer_revenue_summary"):
        assert status[table][0] is False and status[table][1] is False, table
    assert status["customer_orders_staging"][1] is True
    assert status["customer_orders_staging"][3] == "double"
    assert not page.locator("canvas.minimap").is_visible()  # 9 nodes fit: no minimap
    legend = page.inner_text(".legend")
    assert "PII" in legend and "failing checks" in legend
    page.evaluate(
        "(id) => { window.headwaterGraph.getElementById(id).emit('tap'); }",
        checked_server.dataset("customer_orders_staging"),
    )
    panel = page.inner_text(".graph-panel")
    assert "failing checks" in panel and "customer_orders_etl.quality_checks" in panel
    page.evaluate(
        "(id) => { window.headwaterGraph.getElementById(id).emit('tap'); }",
        checked_server.dataset("customers_source"),
    )
    assert "PII" in page.inner_text(".graph-panel .status")
    screenshot(page, "status-colours")
    # from downstream: the staging table's check job is on a sibling branch, looked up on its own
    node = quote(checked_server.dataset("customer_revenue_summary"), safe="")
    page.goto(f"{checked_server.url}/lineage?node={node}&depth=3")
    staging = checked_server.dataset("customer_orders_staging")
    page.wait_for_function(
        "(id) => window.headwaterGraph && window.headwaterGraph.getElementById(id).data('checkFailed')",
        arg=staging,
    )
    labels = page.evaluate("() => window.headwaterGraph.nodes().map(n => n.data('label'))")
    assert "customer_orders_etl.quality_checks" not in labels
    for table in ("products_source", "orders_source", "customer_revenue_summary"):
        assert not page.evaluate(
            "(id) => window.headwaterGraph.getElementById(id).data('checkFailed')",
            checked_server.dataset(table),
        ), table
    page.evaluate("(id) => { window.headwaterGraph.getElementById(id).emit('tap'); }", staging)
    assert "customer_orders_etl.quality_checks" in page.inner_text(".graph-panel")


def test_dataset_page_quality_history_properties_and_version_sizes(
    checked_server, page, screenshot
):
    name = quote(f"{checked_server.warehouse}/customer_orders_staging", safe="")
    page.goto(f"{checked_server.url}/datasets/file/{name}")
    page.wait_for_selector("table.quality")
    rows = page.eval_on_selector_all(
        "table.quality tbody tr",
        "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.innerText))",
    )
    # newest first: the failing check emitted on the copy, then the pipeline's own three checks
    assert len(rows) == 5
    assert {(r[1], r[3]) for r in rows[:2]} == {
        ("row_count >= 1000", "failed"),
        ("not_null(order_id)", "passed"),
    }
    assert {r[3] for r in rows[2:]} == {"passed"}
    assert {r[4] for r in rows} == {"customer_orders_etl.quality_checks"}
    assert "1 failed" in page.inner_text(".quality-history")
    page.click("table.quality tbody tr:first-child td:nth-child(6) a")
    page.wait_for_selector("header.page-header")
    assert urlparse(page.url).path.startswith("/runs/")
    page.go_back()
    page.wait_for_selector("table.properties")
    props = dict(
        page.eval_on_selector_all(
            "table.properties tbody tr",
            "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.innerText))",
        )
    )
    assert props["Storage"] == "iceberg://headwater"
    assert props["TABLE in iceberg://headwater"] == "governance_demo.customer_orders_staging"
    assert props["Owner"] == "data-engineering-team (TEAM)"
    snapshot = props["Current snapshot"]
    versions = page.eval_on_selector_all(
        "table.versions tbody tr",
        "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.innerText))",
    )
    # the snapshot, rows, size and files of each write (the writing run's outputStatistics)
    assert versions[0][2] == snapshot
    assert versions[0][3] == "200" and versions[0][4].endswith("kB") and versions[0][5] == "1"
    page.evaluate(
        "() => document.querySelector('table.versions').closest('section').scrollIntoView()"
    )
    screenshot(page, "dataset-quality")
    name = quote(f"{checked_server.warehouse}/customers_source", safe="")
    page.goto(f"{checked_server.url}/datasets/file/{name}")
    page.wait_for_selector("table.properties")
    props = page.inner_text("table.properties")
    assert "Tag on email" in props and "pii=true" in props and "ICEBERG_PROPERTIES" in props
    assert "No quality checks recorded." in page.inner_text(".quality-history")


@pytest.fixture(scope="module")
def tampered_server(
    lineage_db: tuple[Path, str, str], serve: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A copy of the reference store with one event's stored bytes edited after the fact."""
    db, _, _ = lineage_db
    copy = _copy_of(db, tmp_path_factory, "tampered")
    engine = log_engine(copy)
    edit_body(engine, 5, "customer", "kustomer")
    engine.dispose()
    with serve(copy) as url:
        yield url


def test_audit_shows_a_broken_hash_chain(tampered_server, page, screenshot):
    page.goto(tampered_server + "/audit")
    page.wait_for_selector(".chain-status.broken")
    text = page.inner_text(".chain-status")
    assert "Hash chain broken at event 5" in text and "altered" in text
    assert page.locator(".chain-status.ok").count() == 0
    page.wait_for_selector("table.pii-flow")
    screenshot(page, "audit-chain")


@pytest.fixture(scope="module")
def failing_check_server(
    lineage_db: tuple[Path, str, str], serve: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CatalogServer]:
    """A copy of the reference store where a SQL check on the summary failed, served with the
    reference catalog (so traces read rows)."""
    db, warehouse, _ = lineage_db
    copy = _copy_of(db, tmp_path_factory, "failing")
    store = open_store(f"sqlite:///{copy}")
    try:
        emit_check_run(
            make_client(store=store),
            "headwater",
            "adhoc_checks.customer_revenue_summary",
            ("file", f"{warehouse}/customer_revenue_summary", {}),
            [_Failed("total_profit >= 0", False, None), _Failed("unique(customer_id)", True, None)],
        )
    finally:
        store.close()
    with serve(copy, {"HEADWATER_CATALOG_DIR": str(db.parent / "catalog")}) as url:
        yield CatalogServer(url, warehouse)


def test_trace_from_a_failing_check(failing_check_server, page):
    name = quote(f"{failing_check_server.warehouse}/customer_revenue_summary", safe="")
    page.goto(f"{failing_check_server.url}/datasets/file/{name}")
    page.wait_for_selector("table.quality")
    # only the failing check whose rows can be told (a SQL condition) offers a trace
    assert page.locator("table.quality a.trace-check").count() == 1
    page.click("table.quality a.trace-check")
    page.wait_for_selector(".root-cause")
    assert _query(page)["where"] == ["NOT (total_profit >= 0)"]
    assert "root cause: products_source rows where cost > price" in page.inner_text(".root-causes")
