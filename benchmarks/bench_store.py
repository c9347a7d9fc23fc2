"""Store benchmark: ingest throughput beside raw INSERTs, lineage latency beside in-memory BFS.

Usage: python benchmarks/bench_store.py [--quick] [--width N] [--layers N] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).parent))
from common import Const, PgDatabase, analyze, percentiles, rate, write_report
from legacy import lineage_by_level
from warehouse import bfs, build, dataset_name, upstream_of

from headwater.graph import column_lineage, lineage
from headwater.model import DatasetId, FieldId, parse_node_id
from headwater.store import open_store
from headwater.store.sql import SqlStore

RAW_INSERT = text("INSERT INTO bench_raw (body) VALUES (:b)")


def create_raw_table(store: SqlStore) -> None:
    """The table of the raw-insert ceiling: the same JSON, no index but the key."""
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS bench_raw (id INTEGER PRIMARY KEY, body TEXT)"
                if store.dialect == "sqlite"
                else "CREATE TABLE IF NOT EXISTS bench_raw (id BIGSERIAL PRIMARY KEY, body JSONB)"
            )
        )


CHUNKS = 5  # per mode: the baseline and Headwater take turns, one chunk of events each


def _insert_raw(store: SqlStore, payloads: list[bytes], per_commit: int) -> None:
    """Plain INSERTs of ``payloads``, ``per_commit`` rows a transaction."""
    for i in range(0, len(payloads), per_commit):
        with store.engine.begin() as conn:
            rows = [{"b": p.decode()} for p in payloads[i : i + per_commit]]
            conn.execute(RAW_INSERT, rows[0] if per_commit == 1 else rows)


def _ingest(store: SqlStore, payloads: list[bytes], per_call: int) -> None:
    """Headwater's appends of ``payloads``: ``store.ingest`` each, or ``ingest_many`` batches."""
    for i in range(0, len(payloads), per_call):
        if per_call == 1:
            store.ingest(payloads[i])
        else:
            store.ingest_many(payloads[i : i + per_call])


def _taking_turns(
    store: SqlStore, payloads: list[bytes], per_commit: int
) -> tuple[float, float, float]:
    """Events/s of plain INSERTs and of Headwater's appends, and until projected.

    ``payloads`` are split into :data:`CHUNKS` chunks; for each, the plain INSERT of its JSON and
    then Headwater's append of its events, so that both see the same minutes and a database of
    the same size (a WAL checkpoint's fsync, which lands in one chunk or another, made a single
    pass of the baseline vary threefold between runs). Each rate is the median over chunks.
    """
    size = -(-len(payloads) // CHUNKS)
    raw, appended = [], []
    for i in range(0, len(payloads), size):
        chunk = payloads[i : i + size]
        raw.append(rate(len(chunk), lambda c=chunk: _insert_raw(store, c, per_commit)))
        appended.append(rate(len(chunk), lambda c=chunk: _ingest(store, c, per_commit)))
    appended_rate = statistics.median(appended)
    start = time.perf_counter()
    assert store.catch_up() == len(payloads)
    projected = len(payloads) / (len(payloads) / appended_rate + time.perf_counter() - start)
    return statistics.median(raw), appended_rate, projected


def ingest_rates(store: SqlStore, payloads: list[bytes]) -> tuple[tuple[float, float, float], ...]:
    """Per mode (one event a transaction; 500), plain INSERTs of the same JSON into a table of
    the same database (the storage ceiling) beside Headwater's appends (what a producer waits
    for) and its rate until projected (:func:`_taking_turns`): the first half of the events
    one by one, the second half in batches."""
    create_raw_table(store)
    half = len(payloads) // 2
    return _taking_turns(store, payloads[:half], 1), _taking_turns(store, payloads[half:], 500)


def timed(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def queries(
    store: SqlStore, backend: str, mid: str, up: dict[str, set[str]], down: dict[str, set[str]]
) -> list[str]:
    """Table and column lineage latency from a middle-layer dataset, beside in-memory BFS."""
    rows = []
    node = DatasetId("warehouse", mid)
    field = FieldId(node, "amount")
    for depth in (1, 5, 20):
        for direction, adjacency in (("upstream", up), ("downstream", down)):

            def table_query(d: int = depth, dr: str = direction) -> None:
                lineage(store, node, d, dr)  # type: ignore[arg-type]

            def column_query(d: int = depth, dr: str = direction) -> None:
                column_lineage(store, field, d, dr == "downstream")

            def baseline(a: dict[str, set[str]] = adjacency, d: int = depth) -> None:
                bfs(a, mid, d)

            p50, p95 = timed(table_query, 15)
            f50, f95 = timed(column_query, 15)
            base50, _ = timed(baseline, 15)
            size = len(bfs(adjacency, mid, depth))
            rows.append(
                f"| {backend} | {direction} | {depth} | {size:,} | {p50:.1f} / {p95:.1f} | {f50:.1f} / {f95:.1f} | {base50:.3f} |"
            )
    return rows


def rerun(graph: list[dict[str, Any]], i: int) -> bytes:
    """A new COMPLETE run of the ``i``-th job of ``graph``, with the same inputs and outputs: the
    graph stays the same, the job's latest run and its outputs' current versions change."""
    job = [n for n in graph if n["type"] == "JOB"][i]

    def names(ids: list[str]) -> list[dict[str, Any]]:
        return [
            {"namespace": d.namespace, "name": d.name, "facets": {}}
            for d in (parse_node_id(x) for x in ids)
            if isinstance(d, DatasetId)
        ]

    event = {
        "eventType": "COMPLETE",
        "eventTime": f"2025-01-18T00:00:{i:02d}.000000Z",
        "producer": "https://github.com/headwater-lineage/headwater/benchmarks",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4()), "facets": {}},
        "job": {"namespace": job["data"]["namespace"], "name": job["data"]["name"], "facets": {}},
        "inputs": names([e["origin"] for e in job["inEdges"]]),
        "outputs": names([e["destination"] for e in job["outEdges"]]),
    }
    return json.dumps(event).encode()


def hub_rows(store: SqlStore, backend: str, hub: str, down: dict[str, set[str]]) -> list[str]:
    """Full downstream of the hub dataset, full node details then ``lean``, p50 of 3 runs each
    (warm), beside the same without the node cache, the next read after an event (a job re-run,
    projected), the previous level-by-level walk (same graph, checked) and an in-memory BFS."""
    rows = []
    node = DatasetId("warehouse", hub)
    base, _ = timed(lambda: bfs(down, hub, 20), 3)
    uncached = SqlStore(store.url, node_cache_nodes=0)
    for lean in (False, True):
        graph = lineage(store, node, 20, "downstream", lean=lean)["graph"]
        assert graph == lineage_by_level(store, node, 20, False, lean)["graph"]
        assert graph == lineage(uncached, node, 20, "downstream", lean=lean)["graph"]
        reached = sum(1 for n in graph if n["type"] == "DATASET") - 1
        new, _ = timed(lambda lean=lean: lineage(store, node, 20, "downstream", lean=lean), 3)
        old, _ = timed(lambda lean=lean: lineage_by_level(store, node, 20, False, lean), 3)
        label = "lean (ids and names)" if lean else "full node details"
        cold = after = "-"
        if not lean:
            cold = f"{timed(lambda: lineage(uncached, node, 20, 'downstream'), 3)[0]:.0f}"
            samples = []
            for i in range(3):
                store.ingest(rerun(graph, i))
                store.catch_up()
                samples.append(timed(lambda: lineage(store, node, 20, "downstream"), 1)[0])
            after = f"{sorted(samples)[1]:.0f}"
        rows.append(
            f"| {backend} | {label} | {reached:,} datasets, {len(graph) - reached - 1:,} jobs | {new:.0f} | {cold} | {after} | {old:.0f} | {old / new:.1f}x | {base:.1f} |"
        )
    uncached.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    width = 100 if args.quick else args.width
    events, down = build(args.layers, width)
    up = upstream_of(down)
    payloads = [json.dumps(e, separators=(",", ":")).encode() for e in events]
    hub = dataset_name(0, 0)
    print(f"graph: {args.layers} layers x {width} datasets, {len(events)} jobs/events", flush=True)
    ingest_rows, query_rows, hub_table = [], [], []
    for backend in args.backends.split(","):
        with (
            tempfile.TemporaryDirectory() as tmp,
            PgDatabase() if backend == "postgres" else Const(f"sqlite:///{tmp}/bench.db") as url,
        ):
            store = open_store(url)
            assert isinstance(store, SqlStore)
            single, batch = ingest_rates(store, payloads)
            raw_single, hw_single, hw_single_done = single
            raw_batch, hw_batch, hw_batch_done = batch
            ingest_rows.append(
                f"| {backend} | {raw_single:,.0f} | {hw_single:,.0f} ({hw_single / raw_single:.0%}) | {hw_single_done:,.0f} ({hw_single_done / raw_single:.0%}) | {raw_batch:,.0f} | {hw_batch:,.0f} ({hw_batch / raw_batch:.0%}) | {hw_batch_done:,.0f} ({hw_batch_done / raw_batch:.0%}) |"
            )
            print(ingest_rows[-1], flush=True)
            analyze(store)  # as autovacuum would after the load (this server runs without it)
            query_rows += queries(
                store, backend, dataset_name(args.layers // 2, width // 3), up, down
            )
            hub_table.extend(hub_rows(store, backend, hub, down))
            print("\n".join(query_rows[-6:] + hub_table[-2:]), flush=True)
            store.close()
    body = f"""
Synthetic warehouse: {args.layers} layers x {width} datasets, {len(events):,} jobs (one COMPLETE event
each with schema and column lineage), fan-in 1-3, a hub dataset read by half of layer 1.
Reproduce: `python benchmarks/bench_store.py{" --quick" if args.quick else f" --width {width}"}`.

## Ingest through the store API (events/s)

Baseline: plain INSERTs of the same JSON into a one-column table of the same database (the storage
ceiling): one transaction per row for "single", one per 500 rows for "batch". Headwater's batch path
(`ingest_many`, 500 events a call) appends a batch in one transaction. The batch columns ingest the
second half of the events, into a store that already holds the first half. Each half is taken in
{CHUNKS} chunks, the baseline and Headwater in turns (the plain INSERT of a chunk's JSON, then
Headwater's append of its events), and each rate is the median over chunks: a WAL checkpoint's
fsync, which lands in one chunk or another, made one pass of the baseline vary threefold between
runs, and both now see the same minutes and a database of the same size. "Appended" is what a
producer waits for: the event is validated, durable and in the hash chain. "Projected" adds the
projection of those events into the lineage tables (`catch_up`, which every read runs first; 500
events a transaction), i.e. the rate until reads see them.

| backend | raw INSERT single | appended single (ratio) | projected single (ratio) | raw INSERT batch | appended batch (ratio) | projected batch (ratio) |
|---|---|---|---|---|---|---|
{chr(10).join(ingest_rows)}

## Lineage queries (ms, p50 / p95 over 15 runs)

From a dataset in the middle layer, after the load (PostgreSQL analyzed, as autovacuum would);
baseline: a breadth-first search over an in-memory adjacency dict of the same graph (p50, ms).

| backend | direction | depth | datasets reached (baseline) | table lineage | column lineage (one field) | in-memory BFS |
|---|---|---|---|---|---|---|
{chr(10).join(query_rows)}

## Full downstream of the hub (ms, p50 of 3 runs)

`lineage(hub, depth=20, downstream)`: the walk runs in the database (one recursive CTE,
`LineageStore.jobs_reached`), then the graph payload is built, node details through the store's
node cache (`headwater.store.node_cache`); "no node cache": the same read by a store without it
(every node's JSON read and built); "after an event": the first read after a job of the graph
re-ran (one event, projected: the cache drops that job and its outputs), median of three such
events. Baseline: the previous walk, one `jobs_touching` query per level (`benchmarks/legacy.py`),
which returns the same graph (checked), and a breadth-first search over an in-memory adjacency dict.

| backend | node data | reached | lineage | no node cache | after an event | previous walk | speed-up | in-memory BFS |
|---|---|---|---|---|---|---|---|---|
{chr(10).join(hub_table)}
"""
    write_report("store", "Store benchmark", body)


if __name__ == "__main__":
    main()
