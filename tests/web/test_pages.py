"""Search by metadata, job history (timeline, version diffs), child runs, the impact graph, paths
between any two nodes, and names that look like HTML, in real Chromium against real servers."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlparse

import httpx
import pytest

pytestmark = pytest.mark.e2e

PRODUCER = "https://github.com/headwater-lineage/headwater/tests/web"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACET = {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/x.json"}
SQL_V1 = "SELECT id, email\nFROM raw_accounts"
SQL_V2 = "SELECT a.id, a.email, b.iban\nFROM raw_accounts a\nJOIN banks b ON a.id = b.id"
HOSTILE_JOB = '<img src=x onerror="window.pwned=1">'
HOSTILE_SQL = "SELECT '<script>window.pwned=2</script>' AS f FROM raw_accounts"


def _query(page) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def _graph_ready(page, name="headwaterGraph"):
    page.wait_for_function(f"() => window.{name} && window.{name}.nodes().length > 0")


def _click_node(page, node_id, canvas="#graph", name="headwaterGraph"):
    """A real mouse click where Chromium draws the node."""
    box = page.locator(canvas).bounding_box()
    pos = page.evaluate(f"(id) => window.{name}.getElementById(id).renderedPosition()", node_id)
    page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])


# ---- a job with a history: three runs (completed, failed, running), two versions, a parent ----


@dataclass
class History:
    url: str
    parent: str
    runs: dict[str, str]  # completed, failed, running -> run id


def _at(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _event(kind, job, run_id, at, sql=None, inputs=(), outputs=(), run_facets=None, in_facets=None):
    job_facets = {"sql": {**FACET, "query": sql}} if sql else {}
    return {
        "eventType": kind,
        "eventTime": _at(at),
        "producer": PRODUCER,
        "schemaURL": SCHEMA,
        "run": {"runId": run_id, "facets": run_facets or {}},
        "job": {"namespace": "shop", "name": job, "facets": job_facets},
        "inputs": [
            {"namespace": "shop", "name": n, **({"inputFacets": in_facets} if in_facets else {})}
            for n in inputs
        ],
        "outputs": [{"namespace": "shop", "name": n} for n in outputs],
    }


@pytest.fixture(scope="module")
def history(serve, tmp_path_factory) -> Iterator[History]:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    parent = str(uuid.uuid4())
    runs = {k: str(uuid.uuid4()) for k in ("completed", "failed", "running")}
    child = {
        "parent": {
            **FACET,
            "run": {"runId": parent},
            "job": {"namespace": "shop", "name": "nightly"},
        }
    }
    v1 = {"sql": SQL_V1, "inputs": ["raw_accounts"], "outputs": ["accounts"]}
    v2 = {"sql": SQL_V2, "inputs": ["raw_accounts", "banks"], "outputs": ["accounts"]}
    error = {
        "errorMessage": {
            **FACET,
            "message": "column b.iban does not exist",
            "programmingLanguage": "SQL",
        }
    }
    load = "nightly_load"
    events = [
        _event("START", "nightly", parent, t0),
        _event("START", load, runs["completed"], t0 + timedelta(minutes=1), run_facets=child, **v1),
        _event(
            "COMPLETE", load, runs["completed"], t0 + timedelta(minutes=2), run_facets=child, **v1
        ),
        _event("START", load, runs["failed"], t0 + timedelta(minutes=10), run_facets=child, **v2),
        _event(
            "FAIL",
            load,
            runs["failed"],
            t0 + timedelta(minutes=10, seconds=30),
            run_facets={**child, **error},
            **v2,
        ),
        _event("START", load, runs["running"], t0 + timedelta(minutes=40), run_facets=child, **v2),
        _event(
            "COMPLETE",
            HOSTILE_JOB,
            str(uuid.uuid4()),
            t0,
            sql=HOSTILE_SQL,
            inputs=["raw_accounts"],
            outputs=["<b>bold"],
        ),
    ]
    db = tmp_path_factory.mktemp("history") / "history.db"
    with serve(db) as url:
        answer = httpx.post(f"{url}/api/v1/lineage/batch", json=events, timeout=60)
        assert answer.status_code == 200, answer.text
        yield History(url, parent, runs)


def test_job_page_run_timeline_opens_runs(history, page):
    page.goto(f"{history.url}/jobs/shop/nightly_load")
    page.wait_for_selector(".run-timeline .tl-row")
    rows = page.eval_on_selector_all(
        ".run-timeline .tl-row",
        """rows => rows.map(r => ({id: r.dataset.runId, state: r.dataset.state,
              cls: r.querySelector('a.tl-bar').className,
              left: parseFloat(r.querySelector('a.tl-bar').style.left),
              width: r.querySelector('a.tl-bar').getBoundingClientRect().width,
              text: r.querySelector('.tl-duration').innerText}))""",
    )
    # newest on top; drawn left to right in time; coloured by state; duration beside each bar
    assert [r["id"] for r in rows] == [
        history.runs["running"],
        history.runs["failed"],
        history.runs["completed"],
    ]
    assert rows[2]["left"] < rows[1]["left"] < rows[0]["left"]
    assert [r["state"] for r in rows] == ["RUNNING", "FAILED", "COMPLETED"]
    assert "state-running" in rows[0]["cls"] and "open" in rows[0]["cls"]
    assert "state-failed" in rows[1]["cls"] and "state-completed" in rows[2]["cls"]
    assert rows[2]["text"] == "1 min 0 s" and rows[1]["text"] == "30.0 s"
    assert rows[0]["text"].endswith("so far")
    assert rows[0]["width"] > rows[2]["width"] >= 3  # 20 minutes and counting vs one minute
    colours = page.eval_on_selector_all(
        ".run-timeline a.tl-bar", "bars => bars.map(b => getComputedStyle(b).backgroundColor)"
    )
    assert colours[1] == "rgb(220, 38, 38)" and colours[2] == "rgb(22, 163, 74)"
    page.click(f".tl-row[data-run-id='{history.runs['failed']}'] a.tl-bar")
    page.wait_for_selector(".card.failure")
    assert urlparse(page.url).path == f"/runs/{history.runs['failed']}"
    assert "column b.iban does not exist" in page.inner_text(".card.failure")


def test_job_versions_diff_between_any_two(history, page, screenshot):
    page.goto(f"{history.url}/jobs/shop/nightly_load")
    page.wait_for_selector(".job-versions .version-diff")
    versions = page.eval_on_selector_all(
        "table.versions tbody tr input[name=version-to]", "i => i.map(x => x.value)"
    )
    assert len(versions) == 2  # newest first
    newest, oldest = versions
    # by default: the previous version against the current one
    added = page.eval_on_selector_all(
        ".version-diff pre.diff span.add", "s => s.map(x => x.innerText.trim())"
    )
    removed = page.eval_on_selector_all(
        ".version-diff pre.diff span.del", "s => s.map(x => x.innerText.trim())"
    )
    assert "+JOIN banks b ON a.id = b.id" in added and "-SELECT id, email" in removed
    assert page.inner_text(".version-diff .inputs ul.added") == "banks"
    assert page.locator(".version-diff .outputs").count() == 0  # the same outputs
    assert _query(page) == {"from": [oldest], "to": [newest]}
    page.evaluate("() => document.querySelector('.run-timeline').scrollIntoView()")
    screenshot(page, "job-history")  # the timeline, the runs, the versions and their diff
    # the other way round: the join is removed, banks is no longer an input
    page.check(f"input[name=version-from][value='{newest}']")
    page.check(f"input[name=version-to][value='{oldest}']")
    page.wait_for_selector(".version-diff .inputs ul.removed")
    assert page.inner_text(".version-diff .inputs ul.removed") == "banks"
    assert _query(page) == {"from": [newest], "to": [oldest]}
    # a shared link (or a reload) shows the same comparison
    page.reload()
    page.wait_for_selector(".version-diff .inputs ul.removed")
    assert page.is_checked(f"input[name=version-from][value='{newest}']")
    # the same version on both sides: nothing changed
    page.check(f"input[name=version-to][value='{newest}']")
    page.wait_for_selector(".version-diff .same-sql")
    assert "Same inputs and outputs." in page.inner_text(".version-diff")


def test_run_page_lists_child_runs(history, page, screenshot):
    page.goto(f"{history.url}/runs/{history.parent}")
    page.wait_for_selector(".child-runs table.children")
    assert "Child runs (3)" in page.inner_text(".child-runs h2")
    rows = page.eval_on_selector_all(
        ".child-runs table.children tbody tr",
        "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.innerText))",
    )
    assert [r[0] for r in rows] == [
        history.runs["completed"],
        history.runs["failed"],
        history.runs["running"],
    ]  # oldest first
    assert {r[1] for r in rows} == {"nightly_load"}
    assert [r[2] for r in rows] == ["COMPLETED", "FAILED", "RUNNING"]
    labels = page.eval_on_selector_all(
        ".child-runs .tl-label[title]", "l => l.map(x => x.innerText)"
    )
    assert labels == ["nightly_load"] * 3
    screenshot(page, "child-runs")
    page.click(".child-runs table.children tbody tr:nth-child(2) td:first-child a")
    page.wait_for_selector(".card.failure")
    assert urlparse(page.url).path == f"/runs/{history.runs['failed']}"
    # the child names its parent, and the parent's link leads back
    page.click(".parent-run a >> nth=0")
    page.wait_for_selector(".child-runs table.children")
    assert urlparse(page.url).path == f"/runs/{history.parent}"
    # a run without children says so
    page.goto(f"{history.url}/runs/{history.runs['completed']}")
    page.wait_for_selector(".child-runs")
    assert "Child runs (0)" in page.inner_text(".child-runs h2")


def test_names_and_sql_that_look_like_html_stay_text(history, page):
    page.goto(f"{history.url}/search?q={quote('<img')}")
    page.wait_for_selector("li.result")
    names = page.eval_on_selector_all("li.result .result-name", "n => n.map(x => x.innerText)")
    assert HOSTILE_JOB in names
    page.goto(f"{history.url}/search?q={quote('window.pwned=2')}&in=sql")
    page.wait_for_selector("li.result[data-matched=sql]")
    assert "<script>window.pwned=2</script>" in page.inner_text("li.result .match code")
    page.keyboard.press("Enter")
    page.wait_for_selector("pre.sql")
    assert page.inner_text("header.page-header h1") == HOSTILE_JOB
    assert "<script>window.pwned=2</script>" in page.inner_text("pre.sql")
    page.goto(f"{history.url}/datasets/shop/{quote('<b>bold', safe='')}")
    page.wait_for_selector("header.page-header h1")
    assert page.inner_text("header.page-header h1") == "<b>bold"
    assert (
        page.evaluate("() => document.querySelectorAll('main img, main script, main b').length")
        == 0
    )
    assert page.evaluate("() => window.pwned") is None


# ---- the reference pipeline's lineage ----


def test_search_by_column_tag_owner_and_sql(lineage_server, page, screenshot):
    url = lineage_server.url
    page.goto(url + "/search?q=email")
    page.wait_for_selector("li.result[data-type=FIELD]")
    results = page.eval_on_selector_all(
        "li.result",
        "l => l.map(li => [li.dataset.type, li.dataset.matched, li.querySelector('.result-name').innerText])",
    )
    assert ["FIELD", "column", "customers_source.email"] in results
    assert ["FIELD", "column", "customer_revenue_summary.email"] in results
    # SQL that mentions the column comes after the columns named so
    kinds = [r[1] for r in results]
    assert kinds.index("sql") > max(i for i, k in enumerate(kinds) if k == "column")
    screenshot(page, "search-metadata")
    # keyboard: down to the customers_source column, Enter opens its column lineage
    index = results.index(["FIELD", "column", "customers_source.email"])
    for _ in range(index):
        page.keyboard.press("ArrowDown")
    active = page.eval_on_selector("li.result.active .result-name", "x => x.innerText")
    assert active == "customers_source.email"
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-role=selected]")
    assert _query(page)["mode"] == ["column"] and _query(page)["column"] == ["email"]
    assert page.inner_text("[data-role=selected]") == "customers_source.email"
    page.go_back()
    page.wait_for_selector("li.result.active")

    # tags: the PII columns its tags facet declares, found by the tag, with the tag shown
    page.select_option("select[aria-label='Look in']", "tag")
    page.fill(".search-input", "pii")
    page.wait_for_function(
        "() => location.search.includes('in=tag') && location.search.includes('q=pii')"
    )
    page.wait_for_selector("li.result[data-matched=tag]")
    tagged = page.eval_on_selector_all(
        "li.result",
        "l => l.map(li => [li.dataset.matched, li.querySelector('.result-name').innerText])",
    )
    assert sorted(tagged) == [
        ["tag", "customers_source.email"],
        ["tag", "customers_source.first_name"],
        ["tag", "customers_source.last_name"],
    ]
    assert "pii=true" in page.inner_text("li.result .match")

    # owners: what the analytics team owns, a dataset and a job
    page.goto(url + "/search?q=analytics-team&in=owner")
    page.wait_for_selector("li.result[data-matched=owner]")
    owned = page.eval_on_selector_all(
        "li.result",
        "l => l.map(li => [li.dataset.type, li.querySelector('.result-name').innerText])",
    )
    assert sorted(owned) == [
        ["DATASET", "customer_revenue_summary"],
        ["JOB", "customer_revenue_aggregation"],
    ]

    # SQL text: the job whose SQL divides with NULLIF, the line shown; Enter opens the job
    page.goto(url + "/search?q=nullif&in=sql")
    page.wait_for_selector("li.result[data-matched=sql]")
    assert page.locator("li.result").count() == 1
    assert "NULLIF(SUM(co.quantity * p.price), 0)" in page.inner_text("li.result .match code")
    page.keyboard.press("Enter")
    page.wait_for_selector("pre.sql")
    assert urlparse(page.url).path == "/jobs/headwater/customer_revenue_aggregation"

    # the kind filter: only columns
    page.goto(url + "/search?q=customer&filter=FIELD")
    page.wait_for_selector("li.result")
    assert set(page.eval_on_selector_all("li.result", "l => l.map(x => x.dataset.type)")) == {
        "FIELD"
    }


def test_impact_is_drawn_as_a_graph_with_breaking_columns_marked(lineage_server, page, screenshot):
    page.goto(lineage_server.url + "/impact?node=orders_source.quantity&change=type")
    _graph_ready(page, "headwaterImpactGraph")
    nodes = page.evaluate(
        """() => window.headwaterImpactGraph.nodes().map(n => ({id: n.id(), label: n.data('label'),
             breaks: n.data('breaks'), origin: n.data('origin'), border: n.style('border-color')}))"""
    )
    origin = [n for n in nodes if n["origin"]]
    assert [n["label"] for n in origin] == ["orders_source\nquantity"]
    affected = [n for n in nodes if not n["origin"]]
    rows = page.locator("table.affected tbody tr").count()
    assert len(affected) == rows == 6
    assert all(n["breaks"] and n["border"] == "rgb(220,38,38)" for n in affected)
    edges = page.evaluate(
        "() => window.headwaterImpactGraph.edges().map(e => [e.source().data('label'), e.target().data('label')])"
    )
    assert ["orders_source\nquantity", "customer_orders_staging\nquantity"] in edges
    assert ["customer_orders_staging\nquantity", "customer_revenue_summary\ntotal_profit"] in edges
    # click a node: what it is, and a link to its column lineage
    target = next(n["id"] for n in affected if n["label"].endswith("total_profit"))
    _click_node(page, target, "#impact-graph", "headwaterImpactGraph")
    page.wait_for_selector(".impact-info strong")
    info = page.inner_text(".impact-info")
    assert info.startswith("customer_revenue_summary.total_profit") and "breaks" in info
    assert "customer_revenue_aggregation" in info
    screenshot(page, "impact-graph")
    # a join key's type change: everything affected, nothing breaks, the hops dashed
    page.goto(lineage_server.url + "/impact?node=products_source.product_id&change=type")
    _graph_ready(page, "headwaterImpactGraph")
    styles = page.evaluate(
        """() => ({breaks: window.headwaterImpactGraph.nodes('[?breaks]').length,
                   affected: window.headwaterImpactGraph.nodes('[!origin]').length,
                   lines: [...new Set(window.headwaterImpactGraph.edges().map(e => e.style('line-style')))]})"""
    )
    assert styles["breaks"] == 0 and styles["affected"] > 0 and styles["lines"] == ["dashed"]
    # leaving the view frees the graph
    page.click("header.top >> text=Search")
    page.wait_for_selector(".search-input")
    assert page.evaluate("() => window.headwaterImpactGraph") is None


def test_path_between_two_picked_nodes(lineage_server, page, screenshot):
    focus = lineage_server.dataset("customer_revenue_summary")
    orders = lineage_server.dataset("orders_source")
    staging = lineage_server.dataset("customer_orders_staging")
    page.goto(f"{lineage_server.url}/lineage?node={quote(focus, safe='')}")
    _graph_ready(page)
    # start at orders_source, then click the staging table on the canvas: neither is the focus
    _click_node(page, orders)
    page.click("button.path-from")
    assert page.evaluate(
        "(id) => window.headwaterGraph.getElementById(id).hasClass('path-start')", orders
    )
    _click_node(page, staging)
    page.wait_for_selector("ol.path-list li")
    path = page.eval_on_selector_all("ol.path-list li", "l => l.map(x => x.innerText)")
    assert path == ["orders_source", "customer_orders_etl", "customer_orders_staging"]
    highlighted = page.evaluate(
        """(focus) => ({nodes: window.headwaterGraph.nodes('.path').map(n => n.data('label')).sort(),
                        edges: window.headwaterGraph.edges('.path').length,
                        faded: window.headwaterGraph.getElementById(focus).hasClass('faded')})""",
        focus,
    )
    assert highlighted["nodes"] == sorted(path) and highlighted["edges"] == 2
    assert highlighted["faded"]  # the focus is not on this path
    assert _query(page)["pathFrom"] == [orders] and _query(page)["pathTo"] == [staging]
    screenshot(page, "lineage-path")
    # a shared link draws the same path
    page.reload()
    page.wait_for_selector("ol.path-list li")
    assert page.evaluate("() => window.headwaterGraph.edges('.path').length") == 2
    # siblings have no directed path either way
    _click_node(page, lineage_server.dataset("customers_source"))
    page.wait_for_selector(".no-path")
    assert "No directed path between orders_source and customers_source" in page.inner_text(
        ".graph-panel"
    )
    # clicking the background clears the path and the start
    box = page.locator("#graph").bounding_box()
    page.mouse.click(box["x"] + 8, box["y"] + 8)
    page.wait_for_function("() => !location.search.includes('pathFrom')")
    assert (
        page.evaluate("() => window.headwaterGraph.elements('.path, .faded, .path-start').length")
        == 0
    )
    # a double click (two taps on one node) centers the graph there
    box = page.locator("#graph").bounding_box()
    pos = page.evaluate(
        "(id) => window.headwaterGraph.getElementById(id).renderedPosition()", staging
    )
    page.mouse.dblclick(box["x"] + pos["x"], box["y"] + pos["y"])
    page.wait_for_function(
        "(id) => new URLSearchParams(location.search).get('node') === id", arg=staging
    )


def test_audit_shows_chain_status_and_pii_flow(lineage_server, page):
    page.goto(lineage_server.url + "/audit")
    page.wait_for_selector(".chain-status")
    status = page.inner_text(".chain-status")
    events = httpx.get(f"{lineage_server.url}/api/v1/events/lineage?limit=1").json()["totalCount"]
    assert status.startswith("✓ Hash chain verified") and f"{events} events" in status
    page.wait_for_selector("table.pii-flow")
    rows = page.eval_on_selector_all(
        "table.pii-flow tbody tr",
        "rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.innerText))",
    )
    columns = {r[0]: r[1] for r in rows}
    assert columns["customers_source.email"] == "tagged"
    assert columns["customer_revenue_summary.email"] == "derived"
    assert columns["customer_revenue_summary.customer_name"] == "derived"  # first + last name
    assert "orders_source.quantity" not in columns
    path = next(r[3] for r in rows if r[0] == "customer_revenue_summary.email")
    assert path == (
        "customers_source.email -> customer_orders_staging.email -> customer_revenue_summary.email"
    )
