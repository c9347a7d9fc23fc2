"""HTTP ingest benchmark: `headwater serve` beside a no-op FastAPI endpoint served the same way.

Usage: python benchmarks/bench_api.py [--quick] [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import Const, PgDatabase, rate, write_report  # noqa: E402
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


def measure(url: str, events: list[bytes], batch: int) -> tuple[float, float, float, float]:
    """Events/s accepted, and events/s until readable, one by one and then in batches.

    "Readable" adds the time of one read sent right after the last write: Headwater answers a
    read only after projecting every accepted event (its background projector works while the
    events arrive; the read projects whatever is left).
    """
    half = len(events) // 2
    with httpx.Client(
        base_url=url, timeout=600, headers={"Content-Type": "application/json"}
    ) as client:

        def single() -> None:
            for body in events[:half]:
                assert client.post("/api/v1/lineage", content=body).status_code == 201

        def batched() -> None:
            rest = events[half:]
            for i in range(0, len(rest), batch):
                body = b"[" + b",".join(rest[i : i + batch]) + b"]"
                assert client.post("/api/v1/lineage/batch", content=body).status_code in (200, 207)

        def readable(count: int, send: float) -> float:
            start = time.perf_counter()
            client.get("/api/v1/namespaces")
            return count / (count / send + time.perf_counter() - start)

        single_rate = rate(half, single)
        single_readable = readable(half, single_rate)
        batch_rate = rate(len(events) - half, batched)
        return single_rate, single_readable, batch_rate, readable(len(events) - half, batch_rate)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    events_raw, _ = build(20, 25 if args.quick else 105)
    events = [json.dumps(e, separators=(",", ":")).encode() for e in events_raw]
    batch = 100
    port = _port()
    url = f"http://127.0.0.1:{port}"
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
        url,
    )
    try:
        ceiling_single, _, ceiling_batch, _ = measure(url, events, batch)
    finally:
        noop.terminate()
        noop.wait()
    rows = [
        f"| no-op FastAPI endpoint (ceiling) | {ceiling_single:,.0f} | 100% | - | {ceiling_batch:,.0f} | 100% | - |"
    ]
    print(rows[0], flush=True)
    for backend in args.backends.split(","):
        with (
            tempfile.TemporaryDirectory() as tmp,
            PgDatabase() if backend == "postgres" else Const(f"sqlite:///{tmp}/api.db") as db,
        ):
            port = _port()
            url = f"http://127.0.0.1:{port}"
            server = _start(
                [sys.executable, "-m", "headwater", "serve", "--port", str(port), "--db", db], url
            )
            try:
                single, single_read, batched, batched_read = measure(url, events, batch)
            finally:
                server.terminate()
                server.wait()
        rows.append(
            f"| headwater serve, {backend} | {single:,.0f} | {single / ceiling_single:.0%} | {single_read:,.0f} | {batched:,.0f} | {batched / ceiling_batch:.0%} | {batched_read:,.0f} |"
        )
        print(rows[-1], flush=True)
    body = f"""
{len(events):,} synthetic RunEvents (schema and column lineage facets, ~2 KB each), sent by one
keep-alive httpx client; the first half one by one (`POST /api/v1/lineage`), the rest in batches of
{batch} (`POST /api/v1/lineage/batch`). Baseline: a no-op FastAPI app under the same uvicorn.
"Accepted" counts answered requests (the event is validated, durable and in the hash chain);
"readable" also counts the wait for one read sent after the last write, which Headwater answers
only once every accepted event is projected into the lineage tables (the server's background
projector works while events arrive, the read projects what is left).
Reproduce: `python benchmarks/bench_api.py`.

| server | single accepted/s | vs ceiling | single readable/s | batched accepted/s | vs ceiling | batched readable/s |
|---|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
    write_report("api", "HTTP ingest benchmark", body)


if __name__ == "__main__":
    main()
