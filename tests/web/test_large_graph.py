"""A graph past the node budget: the nearest nodes are drawn, the rest on demand, in real Chromium."""

import time
import uuid
from urllib.parse import quote

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

JOBS = 600  # a source read by 600 jobs, each writing its own table: 1,201 nodes at depth 1
PRODUCER = "https://github.com/headwater-lineage/headwater/tests/web"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def _event(i: int) -> dict:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2025-01-17T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "big", "name": f"fan_job_{i:04d}"},
        "inputs": [{"namespace": "big", "name": "hub_source"}],
        "outputs": [{"namespace": "big", "name": f"fan_table_{i:04d}"}],
        "producer": PRODUCER,
        "schemaURL": SCHEMA,
    }


@pytest.fixture(scope="module")
def fan_server(serve, tmp_path_factory):
    db = tmp_path_factory.mktemp("fan") / "fan.db"
    with serve(db) as url:
        answer = httpx.post(
            f"{url}/api/v1/lineage/batch", json=[_event(i) for i in range(JOBS)], timeout=120
        )
        assert answer.status_code == 200, answer.text
        yield url


def test_budget_expand_in_place_and_draw_all(fan_server, page, screenshot):
    node = quote("dataset:big:hub_source", safe="")
    page.goto(f"{fan_server}/lineage?node={node}&depth=1")
    page.wait_for_selector(".budget")
    count = "() => window.headwaterGraph.nodes().length"
    assert page.evaluate(count) == 300
    assert "Showing 300 of 1201 nodes" in page.inner_text(".budget")
    # a drawn job's output is hidden: expand it in place
    job = page.evaluate("""() => window.headwaterGraph.nodes("[kind = 'JOB'][more > 0]")[0].id()""")
    page.evaluate("(id) => { window.headwaterGraph.getElementById(id).emit('tap'); }", job)
    page.click("button.expand")
    page.wait_for_function("() => window.headwaterGraph.nodes().length > 300")
    assert page.evaluate(count) == 301, page.inner_text(".graph-panel")
    assert "Showing 301 of 1201" in page.inner_text(".budget")
    # collapse hides what the expansion drew again
    page.click("button.collapse")
    page.wait_for_function("() => window.headwaterGraph.nodes().length === 300")
    assert "Showing 300 of 1201" in page.inner_text(".budget")
    assert page.locator("button.collapse").count() == 0
    assert page.locator("button.expand").count() == 1
    page.click("button.expand")
    page.wait_for_function("() => window.headwaterGraph.nodes().length === 301")
    # the minimap: an overview of the drawn graph; a click in it moves the view there
    minimap = page.locator("canvas.minimap")
    assert minimap.is_visible()
    pan = "() => window.headwaterGraph.pan()"
    page.evaluate("() => window.headwaterGraph.zoom(1.5)")
    before = page.evaluate(pan)
    box = minimap.bounding_box()
    page.mouse.click(box["x"] + 10, box["y"] + box["height"] / 2)
    after = page.evaluate(pan)
    assert after != before
    page.mouse.click(box["x"] + box["width"] - 10, box["y"] + box["height"] / 2)
    assert page.evaluate(pan)["x"] < after["x"]  # further right in the graph: panned left
    page.evaluate(
        """() => { const cy = window.headwaterGraph; cy.fit();
        cy.zoom({level: 0.5, position: cy.getElementById('dataset:big:hub_source').position()}); }"""
    )
    screenshot(page, "minimap")

    started = time.monotonic()
    page.click("text=Draw all 1201")
    page.wait_for_function(
        "() => window.headwaterGraph && window.headwaterGraph.nodes().length === 1201"
    )
    drawn = time.monotonic() - started
    assert drawn < 20, f"drawing 1,201 nodes took {drawn:.1f} s"
    assert page.locator(".budget").count() == 0
    # still responsive: a fit and a tap answer at once
    page.click("button:text('Fit')")
    page.evaluate(
        "() => { window.headwaterGraph.getElementById('dataset:big:hub_source').emit('tap'); }"
    )
    page.wait_for_selector(".graph-panel h2:text('hub_source')")
