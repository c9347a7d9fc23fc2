"""Pipeline benchmark: the reference pipeline's wall time with capture on and off, and peak memory.

Each configuration runs in its own process (peak RSS is per process). Usage:
python benchmarks/bench_pipeline.py [--quick] [--sizes 100000,1000000,5000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import write_report  # noqa: E402


def one(orders: int, capture: bool) -> None:
    """Run once and print {"seconds", "peak_mb"} (in a child process)."""
    from headwater.capture.iceberg import open_catalog
    from headwater.capture.transport import make_client
    from headwater.pipelines import REFERENCE, Runner, load_pipeline
    from headwater.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        params = {
            "num_orders": orders,
            "num_customers": max(100, orders // 50),
            "num_products": 500,
            "seed": 1,
        }
        pipeline = load_pipeline(REFERENCE, params)
        catalog = open_catalog(Path(tmp) / "catalog")
        client = (
            make_client(open_store(f"sqlite:///{tmp}/h.db"), asynchronous=True) if capture else None
        )
        start = time.perf_counter()
        Runner(catalog, client).run(pipeline)
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", default="100000,1000000,5000000")
    parser.add_argument(
        "--repeat", type=int, default=7, help="pairs of runs (capture off, capture on)"
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        one(int(args.child[0]), args.child[1] == "on")
        return
    sizes = [100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    rows = []
    for orders in sizes:
        pairs: list[tuple[float, float]] = []
        peak = 0.0
        for i in range(args.repeat):
            # one pair per repeat, the order alternating, so drift on the machine hits both sides
            order = ("off", "on") if i % 2 == 0 else ("on", "off")
            seconds = {}
            for mode in order:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", str(orders), mode],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                r = json.loads(out.stdout.strip().splitlines()[-1])
                seconds[mode] = r["seconds"]
                if mode == "on":
                    peak = max(peak, r["peak_mb"])
            pairs.append((seconds["off"], seconds["on"]))
        off = statistics.median(p[0] for p in pairs)
        on = statistics.median(p[1] for p in pairs)
        overhead = statistics.median((b - a) / a for a, b in pairs)
        spread = max(a for a, _ in pairs) / min(a for a, _ in pairs) - 1
        rows.append(
            f"| {orders:,} | {off:.2f} | {on:.2f} | {overhead:+.1%} | {spread:.0%} | {peak:,.0f} |"
        )
        print(rows[-1], flush=True)
    body = f"""
The reference retail pipeline (sources generated, two SQL steps, quality checks) on DuckDB + a local
pyiceberg SQL catalog, capture off (no OpenLineage client) versus on (events with column lineage into
a local SQLite store), each run in a fresh process and directory. `--repeat` (default 7) pairs of runs,
the order alternating; the overhead is the median of the pairs' relative differences, and "spread"
is how much the capture-off runs alone varied (max/min - 1), the noise floor of this machine.
Reproduce: `python benchmarks/bench_pipeline.py`.

| orders | capture off (s, median) | capture on (s, median) | capture overhead (median of pairs) | spread of capture-off runs | peak RSS with capture (MB) |
|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
    write_report("pipeline", "Pipeline capture benchmark", body)


if __name__ == "__main__":
    main()
