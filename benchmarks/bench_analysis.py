"""Analysis benchmark: impact of a hub column and as-of lineage beside current-graph traversal;
row-level trace beside one run of the pipeline it traces.

Usage: python benchmarks/bench_analysis.py [--quick] [--width N] [--orders N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import percentiles, write_report
from warehouse import build, dataset_name

from headwater.analysis import impact, resolve_node
from headwater.analysis.trace import trace
from headwater.capture.iceberg import IcebergReader, open_catalog
from headwater.capture.transport import make_client
from headwater.graph import column_lineage, lineage
from headwater.model import DatasetId, FieldId
from headwater.pipelines import REFERENCE, Runner, load_pipeline
from headwater.store import open_store


def timed(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--width", type=int, default=300)
    parser.add_argument("--orders", type=int, default=1_000_000)
    args = parser.parse_args()
    width, orders = (60, 100_000) if args.quick else (args.width, args.orders)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        events, _ = build(20, width)
        store = open_store(f"sqlite:///{tmp}/a.db")
        store.ingest_many([json.dumps(e).encode() for e in events])
        hub = FieldId(DatasetId("warehouse", dataset_name(0, 0)), "amount")
        affected = len(impact(store, hub).affected)
        i50, i95 = timed(lambda: impact(store, hub), 5)
        c50, c95 = timed(lambda: column_lineage(store, hub, 20, True), 5)
        rows.append(
            f"| column impact of a hub column ({affected:,} downstream columns) | {i50:.0f} / {i95:.0f} | column lineage traversal, current graph | {c50:.0f} / {c95:.0f} |"
        )
        mid = DatasetId("warehouse", dataset_name(19, width // 2))
        now = datetime.now(UTC)
        a50, a95 = timed(lambda: lineage(store, mid, 20, "upstream", as_of=now), 5)
        l50, l95 = timed(lambda: lineage(store, mid, 20, "upstream"), 5)
        rows.append(
            f"| depth-20 upstream lineage as of a time | {a50:.0f} / {a95:.0f} | the same on the current graph | {l50:.0f} / {l95:.0f} |"
        )
        print("\n".join(rows), flush=True)

        catalog = open_catalog(Path(tmp) / "catalog")
        pipeline_store = open_store(f"sqlite:///{tmp}/p.db")
        params = {
            "num_orders": orders,
            "num_customers": max(100, orders // 50),
            "num_products": 500,
            "seed": 3,
        }
        start = time.perf_counter()
        Runner(catalog, make_client(pipeline_store)).run(load_pipeline(REFERENCE, params))
        pipeline_s = time.perf_counter() - start
        node = resolve_node(pipeline_store, "customer_revenue_summary")
        start = time.perf_counter()
        report = trace(pipeline_store, IcebergReader(catalog), node, "total_profit < 0")
        trace_s = time.perf_counter() - start
        rows.append(
            f"| row-level trace of {report.bad_rows:,} negative-profit customers at {orders:,} orders | {trace_s * 1000:,.0f} | one run of the pipeline (generation, 2 steps, checks, capture) | {pipeline_s * 1000:,.0f} |"
        )
        print(rows[-1], flush=True)
    body = f"""
Synthetic warehouse of {19 * width:,} jobs (see bench_store.py) on SQLite for impact and as-of
queries (p50 / p95 ms over 5 runs); the reference pipeline at {orders:,} orders for the trace (one run
each, ms). Reproduce: `python benchmarks/bench_analysis.py`.

| measured | ms | baseline | ms |
|---|---|---|---|
{chr(10).join(rows)}
"""
    write_report("analysis", "Analysis benchmark", body)


if __name__ == "__main__":
    main()
