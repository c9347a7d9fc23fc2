"""The web UI in real Chromium against a real server holding the reference pipeline's lineage."""

from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

pytestmark = pytest.mark.e2e


def _graph_ready(page):
    page.wait_for_function(
        "() => window.headwaterGraph && window.headwaterGraph.nodes().length > 0"
    )


def _click_node(page, node_id):
    """Click a graph node where Chromium draws it (a real mouse click on the canvas)."""
    box = page.locator("#graph").bounding_box()
    pos = page.evaluate(
        "(id) => window.headwaterGraph.getElementById(id).renderedPosition()", node_id
    )
    page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])


def test_search_graph_and_column_highlight(lineage_server, page, screenshot):
    url = lineage_server.url
    page.goto(url + "/")
    page.fill(".search-input", "customer_revenue")
    page.wait_for_selector("li.result[data-type=DATASET]")
    screenshot(page, "search")
    names = page.eval_on_selector_all(
        "li.result", "items => items.map(li => li.querySelector('.result-name').innerText)"
    )
    assert "customer_revenue_summary" in names and "customer_revenue_aggregation" in names
    active = "() => [...document.querySelectorAll('li.result')].findIndex(li => li.classList.contains('active'))"
    assert page.evaluate(active) == 0
    page.keyboard.press("ArrowDown")
    assert page.evaluate(active) == 1
    page.keyboard.press("ArrowUp")
    assert page.evaluate(active) == 0
    for _ in range(names.index("customer_revenue_summary")):
        page.keyboard.press("ArrowDown")
    assert "q=customer_revenue" in page.url  # the query is in the URL
    page.keyboard.press("Enter")
    page.wait_for_selector("header.page-header h1")
    assert page.inner_text("header.page-header h1") == "customer_revenue_summary"
    assert "/datasets/file/" in page.url
    assert "total_profit" in page.inner_text("table.schema")
    assert "customer_revenue_aggregation" in page.inner_text("main")  # produced by
    screenshot(page, "dataset")

    page.click("text=Lineage graph")
    _graph_ready(page)
    kinds = page.evaluate(
        "() => Object.fromEntries(window.headwaterGraph.nodes().map(n => [n.data('label'), n.data('kind')]))"
    )
    assert kinds["customer_revenue_aggregation"] == "JOB"
    assert kinds["customers_source"] == "DATASET" and kinds["orders_source"] == "DATASET"
    shapes = page.evaluate(
        "() => [...new Set(window.headwaterGraph.nodes().map(n => n.data('kind') + ':' + n.style('shape')))].sort()"
    )
    assert shapes == ["DATASET:round-rectangle", "JOB:hexagon"]
    # the path between the focus and a source, through both jobs
    source = lineage_server.dataset("orders_source")
    page.evaluate("(id) => { window.headwaterGraph.getElementById(id).emit('tap'); }", source)
    page.click("button.path")
    assert page.eval_on_selector_all("ol.path-list li", "l => l.map(x => x.innerText)") == [
        "orders_source",
        "customer_orders_etl",
        "customer_orders_staging",
        "customer_revenue_aggregation",
        "customer_revenue_summary",
    ]
    assert page.evaluate("() => window.headwaterGraph.edges('.path').length") == 4
    # depth - lowers the graph to the direct neighbours
    page.click("button[aria-label='Less depth']")
    page.wait_for_function("() => new URLSearchParams(location.search).get('depth') === '2'")
    _graph_ready(page)
    page.click("button[aria-label='More depth']")
    _graph_ready(page)
    page.evaluate("(id) => { window.headwaterGraph.getElementById(id).emit('tap'); }", source)
    page.click("button.path")
    screenshot(page, "lineage")

    page.click("button[data-mode=column]")
    page.wait_for_selector("text=columns in")
    _graph_ready(page)
    target = lineage_server.dataset("customer_revenue_summary").replace(
        "dataset:", "datasetField:", 1
    )
    _click_node(page, f"{target}:total_profit")
    page.wait_for_selector("[data-role=selected]")
    assert page.inner_text("[data-role=selected]") == "customer_revenue_summary.total_profit"
    upstream = page.eval_on_selector_all(
        "[data-role=upstream] li",
        "items => items.map(li => [li.dataset.dataset, li.dataset.field])",
    )
    assert {field for _, field in upstream} == {"quantity", "price", "cost"}
    # the source columns (those with no inputs of their own) are exactly these three
    sources = page.evaluate(
        """() => window.headwaterGraph.nodes('.column.up')
               .filter(n => n.incomers('edge').length === 0)
               .map(n => n.data('label')).sort()"""
    )
    assert sources == ["cost", "price", "quantity"]
    assert sorted(upstream) == [
        ["customer_orders_staging", "quantity"],
        ["orders_source", "quantity"],
        ["products_source", "cost"],
        ["products_source", "price"],
    ]
    assert "column=" in page.url  # the selection is in the shareable URL
    # hovering the column shows its transformation
    box = page.locator("#graph").bounding_box()
    pos = page.evaluate(
        "(id) => window.headwaterGraph.getElementById(id).renderedPosition()",
        f"{target}:total_profit",
    )
    page.mouse.move(box["x"] + pos["x"], box["y"] + pos["y"] + 1)
    tip = page.wait_for_selector(".tooltip:not([hidden])")
    assert "DIRECT" in tip.inner_text() and "p.cost" in tip.inner_text()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.wait_for_selector(".tooltip", state="hidden")
    screenshot(page, "columns")

    # a shared link reproduces the highlight; the back button returns to the table graph
    page.reload()
    page.wait_for_selector("[data-role=upstream] li")
    page.go_back()
    page.wait_for_function("() => !location.search.includes('mode=column')")
    _graph_ready(page)
    assert page.locator("button[data-mode=table].on").count() == 1


def test_column_mode_direction_keeps_one_side(lineage_server, page):
    node = quote(lineage_server.dataset("customer_orders_staging"), safe="")
    datasets = "() => window.headwaterGraph.nodes('.dataset').map(n => n.data('label')).sort()"
    page.goto(f"{lineage_server.url}/lineage?node={node}&mode=column&direction=upstream")
    _graph_ready(page)
    assert page.evaluate(datasets) == [
        "customer_orders_staging",
        "customers_source",
        "orders_source",
    ]
    page.select_option("select[aria-label=Direction]", "downstream")
    page.wait_for_function("() => location.search.includes('direction=downstream')")
    _graph_ready(page)
    assert page.evaluate(datasets) == ["customer_orders_staging", "customer_revenue_summary"]


def test_time_travel_shows_the_graph_as_it_was(lineage_server, page):
    url = lineage_server.url
    run = httpx.get(f"{url}/api/v1/runs/{lineage_server.failed_run}").json()
    started = datetime.fromisoformat(run["startedAt"].replace("Z", "+00:00"))
    before = (started - timedelta(milliseconds=1)).isoformat().replace("+00:00", "Z")
    node = quote(lineage_server.dataset("customer_orders_staging"), safe="")
    labels = "() => window.headwaterGraph.nodes().map(n => n.data('label'))"
    page.goto(f"{url}/lineage?node={node}&depth=1")
    _graph_ready(page)
    assert "broken_step" in page.evaluate(labels)
    page.goto(f"{url}/lineage?node={node}&depth=1&asOf={quote(before)}")
    _graph_ready(page)
    then = page.evaluate(labels)
    assert "broken_step" not in then and "customer_revenue_aggregation" in then
    assert "as of" in page.inner_text("h1.graph-title")
    page.click("button[aria-label='Back to now']")
    page.wait_for_function("() => !location.search.includes('asOf')")
    _graph_ready(page)
    assert "broken_step" in page.evaluate(labels)


def test_impact_query(lineage_server, page, screenshot):
    page.goto(lineage_server.url + "/impact")
    page.fill("input[name=node]", "products_source.cost")
    page.select_option("select[name=change]", "drop")
    page.click("button[type=submit]")
    page.wait_for_selector(".verdict")
    assert "breaks 3 downstream columns" in page.inner_text(".verdict")
    fields = page.eval_on_selector_all(
        "table.affected tbody tr td:nth-child(2)", "t => t.map(x => x.innerText)"
    )
    assert sorted(fields) == ["profit_margin_pct", "total_cost", "total_profit"]
    assert "analytics-team" in page.inner_text("table.owners")
    assert "node=products_source.cost" in page.url and "change=drop" in page.url
    page.wait_for_function(
        "() => window.headwaterImpactGraph && window.headwaterImpactGraph.nodes().length === 4"
    )
    screenshot(page, "impact")
    with page.expect_download() as download:
        page.click("a.csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith('"namespace","dataset","field"')
    assert len(lines) == 4
    profit = next(line for line in lines if '"total_profit"' in line)
    assert '"True"' not in profit and '"true"' in profit and "analytics-team" in profit


def test_job_page_runs_and_header_search(lineage_server, page, screenshot):
    page.goto(lineage_server.url + "/jobs/headwater/customer_revenue_aggregation")
    page.wait_for_selector("table.runs")
    keywords = page.eval_on_selector_all("pre.sql .sql-keyword", "k => k.map(x => x.innerText)")
    assert {"SELECT", "FROM", "INNER", "JOIN", "GROUP", "BY"} <= set(keywords)
    screenshot(page, "job")
    row = page.inner_text("table.runs tbody tr")
    assert "COMPLETED" in row and any(c.isdigit() for c in row.split("\t")[-1])
    assert "GROUP BY" in page.inner_text("pre.sql")
    page.fill("#top-search input", "orders_source")
    page.keyboard.press("Enter")
    page.wait_for_selector("li.result")
    assert "/search?q=orders_source" in page.url
    page.go_back()
    page.wait_for_selector("table.runs")


def test_failed_run_shows_error_and_stack_trace(lineage_server, page, screenshot):
    page.goto(lineage_server.url + "/jobs/headwater/broken_step")
    page.wait_for_selector("table.runs")
    assert "FAILED" in page.inner_text("table.runs")
    assert "no_such_column" in page.inner_text("pre.sql")
    assert "null" not in page.inner_text("main")  # absent fields are left out, not printed
    page.click("table.runs a")
    page.wait_for_selector(".card.failure")
    assert lineage_server.failed_run in page.url
    assert "no_such_column" in page.inner_text(".card.failure .error-message")
    assert "Traceback" in page.inner_text(".card.failure details.stack")
    assert "customer_orders_staging" in page.inner_text("main")  # its input
    screenshot(page, "failed-run")


def test_unknown_pages_entities_and_api_errors_render_messages(lineage_server, page):
    url = lineage_server.url
    page.goto(url + "/no/such/page")
    page.wait_for_selector(".not-found .search-input")
    assert "There is no page at /no/such/page" in page.inner_text(".not-found")

    page.goto(url + "/datasets/file/" + quote("/nowhere/missing_table", safe=""))
    page.wait_for_selector(".not-found")
    assert "missing_table" in page.input_value(".not-found .search-input")

    page.goto(url + "/lineage?node=not-a-node-id")
    page.wait_for_selector(".error")
    assert "HTTP 400" in page.inner_text(".error")

    page.goto(url + "/impact?node=no_such_table.no_such_column&change=drop")
    page.wait_for_selector(".error")
    assert page.inner_text(".error").strip() != ""


def test_api_key_form_when_the_server_needs_keys(keyed_server, page):
    page.goto(keyed_server + "/search?q=customer_revenue")
    page.wait_for_selector(".error form.key-form")
    assert "HTTP 401" in page.inner_text(".error")
    page.fill("input[name=apiKey]", "viewer-key")
    page.click("form.key-form button")
    page.wait_for_selector("li.result[data-type=DATASET]")
    assert page.evaluate("localStorage.getItem('headwater.apiKey')") == "viewer-key"
