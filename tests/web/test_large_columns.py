"""Column mode on a large graph in real Chromium: past the budget the dataset boxes nearest the
focus are drawn, the rest on demand, and the side panel still lists a column's whole lineage."""

import random
import statistics
import time
import uuid
from collections import defaultdict
from urllib.parse import parse_qs, quote, urlparse

import httpx
import pytest

from pagejs import FRAME, NEXT_FRAME

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PRODUCER = "https://github.com/headwater-lineage/headwater/tests/web"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
FACETS = "https://openlineage.io/spec/facets"
SCHEMA_FACET = f"{FACETS}/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
LINEAGE_FACET = f"{FACETS}/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
COLUMNS = ["id", "amount", "score"]

# test_large_graph.py's 2,000-node graph with column lineage: ten layers of 105 tables, each
# written by a job reading its own table and a random one of the layer before, and a sink
# summing the last layer's amounts (1,051 datasets upstream of the sink)
LAYERS, WIDTH = 10, 105
DATASETS = LAYERS * WIDTH + 1
BOX_BUDGET = 40  # views/columns.js
SINK = "dataset:big:sink"
# Bounds a healthy build meets many times over on a loaded 2-core machine. Slowdowns too small
# for a bound that survives a loaded machine are checked directly: the budget (the box count),
# layered.js and not dagre past 150 boxes (dagre and compound boxes took 10 s and 0.9 s a click
# here), no compound boxes (a frame 2-3x slower), a highlight from the data, not the drawing.
BUDGET_DRAW_BOUND_S = 10
EXPAND_BOUND_S = 5
DRAW_ALL_BOUND_S = 25
FRAME_BOUND_MS = 1500
CLICK_BOUND_MS = 3000


def _transformation(kind: str, subtype: str, sql: str) -> dict:
    return {"type": kind, "subtype": subtype, "description": sql, "masking": False}


def _input(table: str, field: str, *transformations: dict) -> dict:
    return {
        "namespace": "big",
        "name": table,
        "field": field,
        "transformations": list(transformations),
    }


def _run(job: str, inputs: list[str], output: str, fields: dict) -> dict:
    schema = {
        "_producer": PRODUCER,
        "_schemaURL": SCHEMA_FACET,
        "fields": [{"name": c, "type": "BIGINT"} for c in COLUMNS],
    }
    lineage = {"_producer": PRODUCER, "_schemaURL": LINEAGE_FACET, "fields": fields, "dataset": []}
    return {
        "eventType": "COMPLETE",
        "eventTime": "2025-01-17T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "big", "name": job},
        "inputs": [{"namespace": "big", "name": n, "facets": {"schema": schema}} for n in inputs],
        "outputs": [
            {
                "namespace": "big",
                "name": output,
                "facets": {"schema": schema, "columnLineage": lineage},
            }
        ],
        "producer": PRODUCER,
        "schemaURL": SCHEMA,
    }


def _events() -> list[dict]:
    """``id`` is copied from the own table, ``amount`` adds the other table's ``score`` (joined
    on ``id``, an indirect input), ``score`` is the other table's ``amount``."""
    rnd = random.Random(3)
    events = []
    for layer in range(1, LAYERS):
        for i in range(WIDTH):
            own = f"t{layer - 1:02d}_{i:03d}"
            other = f"t{layer - 1:02d}_{rnd.randrange(WIDTH):03d}"
            plus = _transformation("DIRECT", "TRANSFORMATION", "o.amount + x.score")
            fields = {
                "id": {
                    "inputFields": [
                        _input(own, "id", _transformation("DIRECT", "IDENTITY", "o.id"))
                    ]
                },
                "amount": {
                    "inputFields": [
                        _input(own, "amount", plus),
                        _input(other, "score", plus),
                        _input(other, "id", _transformation("INDIRECT", "JOIN", "o.id = x.id")),
                    ]
                },
                "score": {
                    "inputFields": [
                        _input(other, "amount", _transformation("DIRECT", "IDENTITY", "x.amount"))
                    ]
                },
            }
            output = f"t{layer:02d}_{i:03d}"
            events.append(_run(f"job{layer:02d}_{i:03d}", sorted({own, other}), output, fields))
    last = [f"t{LAYERS - 1:02d}_{i:03d}" for i in range(WIDTH)]
    total = _transformation("DIRECT", "AGGREGATION", "sum(amount)")
    sink = {"amount": {"inputFields": [_input(t, "amount", total) for t in last]}}
    events.append(_run("sink_job", last, "sink", sink))
    return events


def _field(table: str, column: str) -> str:
    return f"datasetField:big:{table}:{column}"


def _direct_upstream(events: list[dict], field: str) -> set[str]:
    """Every field ``field`` comes from through DIRECT transformations (the default view)."""
    inputs = defaultdict(set)
    for event in events:
        out = event["outputs"][0]
        for column, spec in out["facets"]["columnLineage"]["fields"].items():
            for i in spec["inputFields"]:
                if any(t["type"] == "DIRECT" for t in i["transformations"]):
                    inputs[_field(out["name"], column)].add(_field(i["name"], i["field"]))
    seen: set[str] = set()
    queue = [field]
    while queue:
        for source in inputs[queue.pop()]:
            if source not in seen:
                seen.add(source)
                queue.append(source)
    return seen


@pytest.fixture(scope="module")
def column_server(serve, tmp_path_factory):
    db = tmp_path_factory.mktemp("columns") / "columns.db"
    events = _events()
    with serve(db) as url:
        answer = httpx.post(f"{url}/api/v1/lineage/batch", json=events, timeout=120)
        assert answer.status_code == 200, answer.text
        yield url, events


BOXES = "() => window.headwaterGraph.nodes('.dataset').map(n => n.id()).sort()"


def _expansions(page) -> list[str]:
    return parse_qs(urlparse(page.url).query).get("expand", [])


def _click_column(page, field: str) -> float:
    """Zoom in on a column, click it with the mouse; ms until the panel shows it."""
    box = page.locator("#graph").bounding_box()
    pos = page.evaluate(
        """(id) => { const cy = window.headwaterGraph; const n = cy.getElementById(id);
             cy.zoom(1); cy.center(n); return n.renderedPosition(); }""",
        field,
    )
    page.wait_for_timeout(300)
    label = field.split(":")[-2] + "." + field.split(":")[-1]
    started = time.monotonic()
    page.mouse.click(box["x"] + pos["x"], box["y"] + pos["y"])
    page.wait_for_selector(f"[data-role=selected]:text-is('{label}')")
    page.evaluate(NEXT_FRAME)
    return (time.monotonic() - started) * 1000


def test_column_mode_budget_expand_and_draw_all(column_server, page, record_property):
    url, events = column_server
    node = quote(SINK, safe="")
    started = time.monotonic()
    page.goto(f"{url}/lineage?node={node}&depth=12&direction=upstream&mode=column")
    page.wait_for_selector(".budget")
    page.evaluate(NEXT_FRAME)
    budget_draw = time.monotonic() - started
    drawn = page.evaluate(BOXES)
    assert len(drawn) == BOX_BUDGET
    assert f"Showing {BOX_BUDGET} of {DATASETS} datasets" in page.inner_text(".budget")
    # nearest first: the sink and tables of the last layer, which it reads
    assert SINK in drawn
    assert all(b.startswith("dataset:big:t09_") for b in drawn if b != SINK)
    # boxes are plain nodes behind their columns (compound parents make a frame 2-3x slower)
    assert page.evaluate("() => window.headwaterGraph.nodes(':parent').length") == 0
    sink_label = page.evaluate(
        "() => window.headwaterGraph.getElementById('dataset:big:sink').data('label')"
    )
    assert sink_label == f"sink  +{WIDTH - (BOX_BUDGET - 1)}"

    # expand a last-layer table in place: its one or two inputs are drawn, and kept in the URL
    table = next(b for b in drawn if b != SINK)
    name = table.split(":")[-1]
    reads = {
        f"dataset:big:{n['name']}"
        for e in events
        if e["outputs"][0]["name"] == name
        for n in e["inputs"]
    }
    assert page.evaluate(
        "(id) => window.headwaterGraph.getElementById(id).data('more')", table
    ) == len(reads)
    page.evaluate("(id) => { window.headwaterGraph.getElementById(id).emit('tap'); }", table)
    clicked = time.monotonic()
    page.click("button.expand")
    page.wait_for_function(
        f"() => window.headwaterGraph.nodes('.dataset').length === {BOX_BUDGET + len(reads)}"
    )
    expand_s = time.monotonic() - clicked
    assert set(page.evaluate(BOXES)) == set(drawn) | reads
    assert _expansions(page) == [table]
    assert f"Showing {BOX_BUDGET + len(reads)} of {DATASETS}" in page.inner_text(".budget")
    # a shared link draws the same boxes
    page.reload()
    page.wait_for_selector(".budget")
    assert set(page.evaluate(BOXES)) == set(drawn) | reads
    page.evaluate("(id) => { window.headwaterGraph.getElementById(id).emit('tap'); }", table)
    page.click("button.collapse")
    page.wait_for_function(f"() => window.headwaterGraph.nodes('.dataset').length === {BOX_BUDGET}")
    assert _expansions(page) == []

    # a column whose lineage is not drawn: the panel lists it all and offers to draw it
    column = _field(name, "amount")
    upstream = _direct_upstream(events, column)
    missing = {f.rsplit(":", 1)[0].replace("datasetField:", "dataset:", 1) for f in upstream}
    assert not missing & set(drawn)  # all in the layers before the last
    _click_column(page, column)
    listed = page.eval_on_selector_all(
        "[data-role=upstream] li", "l => l.map(x => x.dataset.nodeId)"
    )
    assert sorted(listed) == sorted(upstream)
    assert (
        page.eval_on_selector_all("[data-role=upstream] li[data-drawn='1']", "l => l.length") == 0
    )
    note = page.inner_text(".not-drawn-note")
    assert (
        f"{len(upstream)} columns of its lineage are in {len(missing)} datasets not drawn" in note
    )
    assert page.evaluate("() => window.headwaterGraph.nodes('.column.up').length") == 0
    assert page.evaluate("() => window.headwaterGraph.nodes('.column.down').map(n => n.id())") == [
        _field("sink", "amount")
    ]
    page.click("button.expand-lineage")
    page.wait_for_function(
        f"() => window.headwaterGraph.nodes('.dataset').length === {BOX_BUDGET + len(missing)}"
    )
    up = "() => window.headwaterGraph.nodes('.column.up').map(n => n.id()).sort()"
    assert page.evaluate(up) == sorted(upstream)
    assert _expansions(page) == [column]
    assert (
        page.eval_on_selector_all("[data-role=upstream] li[data-drawn='0']", "l => l.length") == 0
    )
    page.click("button.collapse-lineage")
    page.wait_for_function(f"() => window.headwaterGraph.nodes('.dataset').length === {BOX_BUDGET}")
    assert _expansions(page) == []

    # the sink's total: its whole upstream listed, what is drawn of it highlighted
    total = _field("sink", "amount")
    upstream = _direct_upstream(events, total)
    budget_click = _click_column(page, total)
    listed = page.eval_on_selector_all(
        "[data-role=upstream] li", "l => l.map(x => x.dataset.nodeId)"
    )
    assert sorted(listed) == sorted(upstream)
    assert f"Upstream ({len(upstream)})" in page.inner_text(".graph-panel")
    shown = page.evaluate(up)
    assert shown == sorted(
        f for f in upstream if f.rsplit(":", 1)[0].replace("datasetField:", "dataset:", 1) in drawn
    )
    assert len(shown) == BOX_BUDGET - 1  # each drawn last-layer table's amount
    assert page.eval_on_selector_all(
        "[data-role=upstream] li[data-drawn='1']", "l => l.length"
    ) == len(shown)

    # draw all: layered.js, not dagre; the selected column survives in the URL
    started = time.monotonic()
    page.click(f"text=Draw all {DATASETS}")
    page.wait_for_function(
        f"() => window.headwaterGraph && window.headwaterGraph.nodes('.dataset').length === {DATASETS}",
        timeout=DRAW_ALL_BOUND_S * 1000,
    )
    page.evaluate(NEXT_FRAME)
    draw_all = time.monotonic() - started
    timing = page.evaluate("() => window.headwaterGraphTiming")
    assert timing["boxes"] == DATASETS and timing["layout"] == "layered", timing
    assert page.locator(".budget").count() == 0
    assert page.evaluate("() => window.headwaterGraph.nodes('.column.up').length") == len(upstream)
    page.wait_for_timeout(500)
    zooms = [page.evaluate(FRAME, "zoom") for _ in range(5)]
    pans = [page.evaluate(FRAME, "pan") for _ in range(5)]
    page.evaluate("() => window.headwaterGraph.emit('tap')")  # clear the selection
    page.wait_for_selector(".graph-panel h2:text-is('Columns')")
    click_ms = _click_column(page, total)  # the largest lineage: 2,000 columns upstream
    assert page.evaluate("() => window.headwaterGraph.nodes('.column.up').length") == len(upstream)
    switch_ms = _click_column(page, _field("t05_050", "amount"))  # from one column to another

    zoom_ms, pan_ms = statistics.median(zooms), statistics.median(pans)
    report = {
        "budget_draw_s": round(budget_draw, 2),
        "expand_s": round(expand_s, 2),
        "budget_click_ms": round(budget_click),
        "datasets": DATASETS,
        "columns": timing["columns"],
        "draw_all_s": round(draw_all, 2),
        "fetch_ms": timing["fetchMs"],
        "schema_ms": timing["schemaMs"],
        "layout_ms": timing["layoutMs"],
        "layout_and_build_ms": timing["drawMs"],
        "zoom_frame_ms": round(zoom_ms),
        "pan_frame_ms": round(pan_ms),
        "click_ms": round(click_ms),
        "switch_click_ms": round(switch_ms),
    }
    for key, value in report.items():
        record_property(key, value)
    print(f"column mode, {DATASETS} datasets: {report}")
    assert budget_draw < BUDGET_DRAW_BOUND_S and expand_s < EXPAND_BOUND_S, report
    assert draw_all < DRAW_ALL_BOUND_S, report
    assert zoom_ms < FRAME_BOUND_MS and pan_ms < FRAME_BOUND_MS, report
    assert max(budget_click, click_ms, switch_ms) < CLICK_BOUND_MS, report


def test_column_mode_draws_a_shared_column_outside_the_budget(column_server, page):
    url, _ = column_server
    far = _field("t05_050", "amount")
    node, column = quote(SINK, safe=""), quote(far, safe="")
    page.goto(f"{url}/lineage?node={node}&depth=12&direction=upstream&mode=column&column={column}")
    page.wait_for_selector("[data-role=selected]:text-is('t05_050.amount')")
    boxes = page.evaluate(BOXES)
    assert len(boxes) == BOX_BUDGET + 1 and "dataset:big:t05_050" in boxes
    assert page.evaluate(
        "(id) => window.headwaterGraph.getElementById(id).hasClass('selected-col')", far
    )
    assert "not drawn" in page.inner_text(".not-drawn-note")


def test_column_budget_helpers_and_tall_layers(column_server, page):
    """columnmodel.js and layered.js's heights, run in the page on small cases."""
    url, _ = column_server
    page.goto(f"{url}/search")
    page.wait_for_selector(".search-input")
    out = page.evaluate(
        """async () => {
          const m = await import('/static/js/columnmodel.js');
          const { layeredLayout } = await import('/static/js/layered.js');
          // f - a - b, and f - big - c: big is too wide for the column budget
          const links = new Map([['f', ['a', 'big']], ['a', ['f', 'b']], ['big', ['f', 'c']], ['b', ['a']], ['c', ['big']]]);
          const size = (id) => ({ f: 5, a: 3, big: 50, b: 3, c: 1 })[id];
          const sorted = (set) => [...set].sort();
          const edges = new Map([
            ['x->y', { id: 'x->y', source: 'x', target: 'y', direct: true }],
            ['y->z', { id: 'y->z', source: 'y', target: 'z', direct: true }],
            ['w->z', { id: 'w->z', source: 'w', target: 'z', direct: false }],
          ]);
          const direct = m.edgeIndex({ edges }, (e) => e.direct);
          const all = m.edgeIndex({ edges });
          const tall = layeredLayout(['a', 'b', 'c'], [['a', 'c'], ['b', 'c']],
            { height: (id) => ({ a: 100, b: 20, c: 30 })[id], nodeSep: 10 });
          return {
            columns: sorted(m.nearestBoxes(links, 'f', size, { boxes: 10, columns: 20 })),
            boxes: sorted(m.nearestBoxes(links, 'f', size, { boxes: 2, columns: 1000 })),
            wideFocus: sorted(m.nearestBoxes(links, 'big', size, { boxes: 10, columns: 10 })),
            order: m.byDistance(links, 'f'),
            up: m.lineageOf(direct, 'z', true).fields.sort(),
            upEdges: sorted(m.lineageOf(direct, 'z', true).edges),
            upAll: m.lineageOf(all, 'z', true).fields.sort(),
            down: m.lineageOf(direct, 'x', false).fields.sort(),
            gap: Math.abs(tall.get('a').y - tall.get('b').y),
          };
        }"""
    )
    assert out["columns"] == ["a", "b", "f"]  # big skipped, c only reachable through it
    assert out["boxes"] == ["a", "f"]
    assert out["wideFocus"] == ["big"]  # the focus is drawn whatever its size
    assert out["order"] == ["f", "a", "big", "b", "c"]
    assert out["up"] == ["x", "y"] and out["upEdges"] == ["x->y", "y->z"]
    assert out["upAll"] == ["w", "x", "y"]
    assert out["down"] == ["y", "z"]
    assert out["gap"] >= (100 + 20) / 2 + 10  # centre to centre: half of each plus the gap
