"""HTTP ingest benchmark: `headwater serve` beside a no-op FastAPI endpoint served the same way.

All servers run at once and are measured in turns, round after round, so that each ratio compares
figures taken minutes apart at most, under the same load; each figure is the median over rounds.

Usage: python benchmarks/bench_api.py [--quick] [--rounds N] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import PgDatabase, rate, write_report  # noqa: E402
from warehouse import build  # noqa: E402


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cmd: list[str], url: str, env: dict[str, str] | None = None) -> subprocess.Popen:  # type: ignore[type-arg]
    proc = subprocess.Popen(
        cmd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(300):
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{cmd} did not start")


def measure(
    url: str, single: list[bytes], batched: list[bytes], batch: int, read: bool
) -> tuple[float, float, float]:
    """Events/s accepted one by one, accepted in batches, and until readable after the batches.

    "Readable" adds the time of one read sent right after the last batch: Headwater answers a
    read only after projecting every accepted event (its projector process works while the
    events arrive; the read projects whatever is left).
    """
    with httpx.Client(
        base_url=url, timeout=600, headers={"Content-Type": "application/json"}
    ) as client:

        def one_by_one() -> None:
            for body in single:
                assert client.post("/api/v1/lineage", content=body).status_code == 201

        def in_batches() -> None:
            for i in range(0, len(batched), batch):
                body = b"[" + b",".join(batched[i : i + batch]) + b"]"
                assert client.post("/api/v1/lineage/batch", content=body).status_code in (200, 207)

        single_rate = rate(len(single), one_by_one)
        start = time.perf_counter()
        in_batches()
        sent = time.perf_counter() - start
        if not read:
            return single_rate, len(batched) / sent, float("nan")
        client.get("/api/v1/namespaces")
        return single_rate, len(batched) / sent, len(batched) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    n_single, n_batched, batch = (200, 1000, 100) if args.quick else (600, 4000, 100)
    per_round = n_single + n_batched
    events_raw, _ = build(20, per_round * args.rounds // 19 + 1)
    events = [json.dumps(e, separators=(",", ":")).encode() for e in events_raw]
    backends = args.backends.split(",")
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        servers: dict[str, str] = {}
        port = _port()
        noop = _start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "noop_app:app",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--app-dir",
                str(HERE),
            ],
            f"http://127.0.0.1:{port}",
        )
        stack.callback(_stop, noop)
        servers["no-op FastAPI endpoint (ceiling)"] = f"http://127.0.0.1:{port}"
        for backend in backends:
            db = (
                stack.enter_context(PgDatabase())
                if backend == "postgres"
                else f"sqlite:///{tmp}/api.db"
            )
            port = _port()
            url = f"http://127.0.0.1:{port}"
            proc = _start(
                [sys.executable, "-m", "headwater", "serve", "--port", str(port), "--db", db], url
            )
            stack.callback(_stop, proc)
            servers[f"headwater serve, {backend}"] = url
        figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in servers}
        for r in range(args.rounds):
            chunk = events[r * per_round : (r + 1) * per_round]
            for name, url in servers.items():
                is_headwater = name.startswith("headwater")
                figures[name].append(
                    measure(url, chunk[:n_single], chunk[n_single:], batch, is_headwater)
                )
                print(name, [f"{x:,.0f}" for x in figures[name][-1]], flush=True)

    def med(name: str, k: int) -> float:
        return statistics.median(f[k] for f in figures[name])

    ceiling = "no-op FastAPI endpoint (ceiling)"
    rows = [f"| {ceiling} | {med(ceiling, 0):,.0f} | 100% | {med(ceiling, 1):,.0f} | 100% | - |"]
    for backend in backends:
        name = f"headwater serve, {backend}"
        rows.append(
            f"| {name} | {med(name, 0):,.0f} | {med(name, 0) / med(ceiling, 0):.0%} "
            f"| {med(name, 1):,.0f} | {med(name, 1) / med(ceiling, 1):.0%} | {med(name, 2):,.0f} |"
        )
    text = f"""
Synthetic RunEvents (schema and column lineage facets, ~2 KB each), sent by one keep-alive httpx
client: per round and server, {n_single:,} one by one (`POST /api/v1/lineage`), then {n_batched:,} in
batches of {batch} (`POST /api/v1/lineage/batch`); {args.rounds} rounds, every server in turn each round,
medians shown. Baseline: a no-op FastAPI app under the same uvicorn. "Accepted" counts answered
requests (the event is validated, durable and in the hash chain); "readable" is the batched rate
counted until one read sent after the last batch answers, which Headwater does only once every
accepted event is projected into the lineage tables (`headwater serve` runs a projector process
beside the server; the read projects what is left). Client, server and projector share the
machine's 2 cores. Reproduce: `python benchmarks/bench_api.py`.

| server | single accepted/s | vs ceiling | batched accepted/s | vs ceiling | batched readable/s |
|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
    write_report("api", "HTTP ingest benchmark", text)


def _stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    proc.terminate()
    proc.wait()


if __name__ == "__main__":
    main()
