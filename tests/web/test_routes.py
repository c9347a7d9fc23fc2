"""The UI's HTTP surface: every UI URL answers the page shell, the API keeps its JSON errors."""

from urllib.parse import quote

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_ui_urls_answer_the_shell(lineage_server):
    name = quote(f"{lineage_server.warehouse}/customer_revenue_summary", safe="")
    for path in (
        "/",
        "/search?q=orders",
        f"/datasets/file/{name}",
        "/jobs/headwater/customer_revenue_aggregation",
        f"/runs/{lineage_server.failed_run}",
        "/lineage?node=" + quote(lineage_server.dataset("customer_revenue_summary")),
        "/impact?node=products_source.cost&change=drop",
        "/trace?dataset=customer_revenue_summary&where=total_profit%20%3C%200",
        "/audit?job=customer_orders_etl",
        "/diff?from=2026-01-01T00:00:00Z",
    ):
        answer = httpx.get(lineage_server.url + path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith("text/html")
        assert '<main id="view">' in answer.text
        assert "/static/vendor/cytoscape.min.js" in answer.text


def test_unknown_ui_path_is_a_404_page_and_unknown_api_route_a_json_404(lineage_server):
    page = httpx.get(lineage_server.url + "/no/such/page")
    assert page.status_code == 404 and '<main id="view">' in page.text
    for method in ("GET", "POST"):
        api = httpx.request(method, lineage_server.url + "/api/v1/no-such-route")
        assert api.status_code == 404, method
        assert api.headers["content-type"] == "application/json"
    missing = httpx.get(lineage_server.url + "/api/v1/namespaces/headwater/jobs/nope")
    assert missing.status_code == 404 and missing.json()["code"] == 404
    assert httpx.get(lineage_server.url + "/openapi.json").status_code == 200


def test_static_files_and_vendored_libraries_are_served(lineage_server):
    for path in (
        "/static/js/main.js",
        "/static/app.css",
        "/static/vendor/cytoscape.min.js",
        "/static/vendor/dagre.min.js",
        "/static/vendor/cytoscape-dagre.js",
    ):
        assert httpx.get(lineage_server.url + path).status_code == 200, path
    assert httpx.get(lineage_server.url + "/static/nope.js").status_code == 404
