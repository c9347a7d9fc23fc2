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
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_store import RAW_INSERT, create_raw_table  # noqa: E402
from common import PgDatabase, write_report  # noqa: E402
from warehouse import build  # noqa: E402

from headwater.store.sql import SqlStore  # noqa: E402


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


def _in_threads(
    producers: int, bodies: list[bytes], send: Callable[[Any, bytes], None], make: Callable[[], Any]
) -> float:
    """Events/s of ``producers`` threads, each with its own connection, sending ``bodies`` between them."""
    clients = [make() for _ in range(producers)]
    start = threading.Barrier(producers + 1)

    def work(k: int) -> None:
        start.wait()
        for body in bodies[k::producers]:
            send(clients[k], body)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(producers)]
    for th in threads:
        th.start()
    start.wait()
    began = time.perf_counter()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - began
    for client in clients:
        close = getattr(client, "close", None)
        if close is not None:
            close()
    return len(bodies) / elapsed


def _http_client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=600, headers={"Content-Type": "application/json"})


def _post_one(client: httpx.Client, body: bytes) -> None:
    assert client.post("/api/v1/lineage", content=body).status_code == 201


def _post_batch(client: httpx.Client, body: bytes) -> None:
    assert client.post("/api/v1/lineage/batch", content=body).status_code in (200, 207)


def _one_by_one(url: str, bodies: list[bytes]) -> tuple[float, list[float]]:
    """Events/s of one producer sending ``bodies`` one request each, and each request's seconds."""
    latencies = []
    with _http_client(url) as client:
        began = time.perf_counter()
        for body in bodies:
            sent = time.perf_counter()
            _post_one(client, body)
            latencies.append(time.perf_counter() - sent)
        elapsed = time.perf_counter() - began
    return len(bodies) / elapsed, latencies


def _latency_ms(latencies: list[float]) -> tuple[float, float, float]:
    """p50, p99 and the longest of request times given in seconds, in milliseconds."""
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1e3, p99 * 1e3, ordered[-1] * 1e3


def measure(
    url: str,
    chunk: list[bytes],
    n_single: int,
    producers: int,
    n_batched: int,
    batch: int,
    batch_producers: int,
    read: bool,
) -> tuple[float, ...]:
    """Events/s accepted one by one from one producer and from ``producers`` at once, accepted
    in batches from one producer, until readable after those batches, accepted in batches
    from ``batch_producers`` at once, and one by one from one producer until readable; then
    that producer's request times (ms): p50, p99, the longest.

    "Readable" adds the time of one read sent right after the last event: Headwater answers a
    read only after projecting every accepted event (its projector process works while the
    events arrive; the read projects whatever is left).
    """
    single, concurrent = chunk[:n_single], chunk[n_single : 2 * n_single]
    rest = chunk[2 * n_single :]
    batched = [b"[" + b",".join(rest[i : i + batch]) + b"]" for i in range(0, len(rest), batch)]
    alone_batches, together_batches = batched[: n_batched // batch], batched[n_batched // batch :]
    started = time.perf_counter()
    alone, latencies = _one_by_one(url, single)
    alone_readable = float("nan")
    if read:  # and the eight producers start with the single events projected
        with _http_client(url) as client:
            client.get("/api/v1/namespaces", timeout=600)
        alone_readable = n_single / (time.perf_counter() - started)
    together = _in_threads(producers, concurrent, _post_one, lambda: _http_client(url))
    readable = float("nan")
    with _http_client(url) as client:
        start = time.perf_counter()
        for body in alone_batches:
            _post_batch(client, body)
        sent = time.perf_counter() - start
        if read:
            client.get("/api/v1/namespaces")
            readable = n_batched / (time.perf_counter() - start)
    batches_together = (
        _in_threads(batch_producers, together_batches, _post_batch, lambda: _http_client(url))
        * batch
    )
    if read:  # untimed: the next round starts caught up, its projector idle
        with _http_client(url) as client:
            client.get("/api/v1/namespaces", timeout=600)
    return (
        alone,
        together,
        n_batched / sent,
        readable,
        batches_together,
        alone_readable,
        *_latency_ms(latencies),
    )


def commit_ceiling(
    db: str, chunk: list[bytes], n_single: int, producers: int
) -> tuple[float, float]:
    """The storage ceiling of one event per request: a plain INSERT of the same JSON and a
    commit per event, into the same database, from one connection and from ``producers``."""
    store = SqlStore(db)
    create_raw_table(store)

    def one(engine: Any, body: bytes) -> None:
        with engine.begin() as conn:
            conn.execute(RAW_INSERT, {"b": body.decode()})

    try:
        alone = _in_threads(1, chunk[:n_single], one, lambda: store.engine)
        together = _in_threads(producers, chunk[n_single : 2 * n_single], one, lambda: store.engine)
    finally:
        store.close()
    return alone, together


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--producers", type=int, default=8)
    parser.add_argument("--batch-producers", type=int, default=4)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    n_single, n_batched, batch = (200, 1000, 100) if args.quick else (600, 4000, 100)
    per_round = 2 * n_single + 2 * n_batched
    events_raw, _ = build(20, per_round * args.rounds // 19 + 1)
    events = [json.dumps(e, separators=(",", ":")).encode() for e in events_raw]
    backends = args.backends.split(",")
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        servers: dict[str, str] = {}
        dbs: dict[str, str] = {}
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
        noop_name = "no-op FastAPI endpoint (HTTP ceiling)"
        servers[noop_name] = f"http://127.0.0.1:{port}"
        for backend in backends:
            db = (
                stack.enter_context(PgDatabase())
                if backend == "postgres"
                else f"sqlite:///{tmp}/api.db"
            )
            dbs[backend] = db
            port = _port()
            url = f"http://127.0.0.1:{port}"
            proc = _start(
                [sys.executable, "-m", "headwater", "serve", "--port", str(port), "--db", db], url
            )
            stack.callback(_stop, proc)
            servers[f"headwater serve, {backend}"] = url
        figures: dict[str, list[tuple[float, ...]]] = {name: [] for name in servers}
        ceilings: dict[str, list[tuple[float, float]]] = {b: [] for b in backends}
        for r in range(args.rounds):
            chunk = events[r * per_round : (r + 1) * per_round]
            for name, url in servers.items():
                is_headwater = name.startswith("headwater")
                figures[name].append(
                    measure(
                        url,
                        chunk,
                        n_single,
                        args.producers,
                        n_batched,
                        batch,
                        args.batch_producers,
                        is_headwater,
                    )
                )
                print(name, [f"{x:,.0f}" for x in figures[name][-1]], flush=True)
            for backend, db in dbs.items():
                ceilings[backend].append(commit_ceiling(db, chunk, n_single, args.producers))
                print(backend, "commit ceiling", [f"{x:,.0f}" for x in ceilings[backend][-1]])

    def med(name: str, k: int) -> float:
        return statistics.median(f[k] for f in figures[name])

    def ceil(backend: str, k: int) -> float:
        return statistics.median(c[k] for c in ceilings[backend])

    def series(backend: str) -> float:
        """One producer's bound: the no-op request and the plain commit, one after the other."""
        return 1 / (1 / med(noop_name, 0) + 1 / ceil(backend, 0))

    rows = [
        f"| {noop_name} | {med(noop_name, 0):,.0f} | 100% | - | - | - "
        f"| {med(noop_name, 1):,.0f} | 100% | - | {med(noop_name, 2):,.0f} | 100% | - "
        f"| {med(noop_name, 4):,.0f} | 100% |"
    ]
    for backend in backends:
        rows.append(
            f"| plain INSERT + COMMIT per event, {backend} (storage ceiling) "
            f"| {ceil(backend, 0):,.0f} | - | 100% | - | - | {ceil(backend, 1):,.0f} | - | 100% "
            "| - | - | - | - | - |"
        )
    for backend in backends:
        name = f"headwater serve, {backend}"
        rows.append(
            f"| {name} | {med(name, 0):,.0f} | {med(name, 0) / med(noop_name, 0):.0%} "
            f"| {med(name, 0) / ceil(backend, 0):.0%} "
            f"| {med(name, 0) / series(backend):.0%} ({series(backend):,.0f}/s) "
            f"| {med(name, 5):,.0f} ({med(name, 5) / med(noop_name, 0):.0%}) "
            f"| {med(name, 1):,.0f} | {med(name, 1) / med(noop_name, 1):.0%} "
            f"| {med(name, 1) / ceil(backend, 1):.0%} "
            f"| {med(name, 2):,.0f} | {med(name, 2) / med(noop_name, 2):.0%} | {med(name, 3):,.0f} "
            f"| {med(name, 4):,.0f} | {med(name, 4) / med(noop_name, 4):.0%} |"
        )
    latency_rows = [
        f"| {name} | {med(name, 6):.2f} | {med(name, 7):.2f} | {med(name, 8):.1f} |"
        for name in servers
    ]
    text_ = f"""
Synthetic RunEvents (schema and column lineage facets, ~2 KB each). Per round and server:
{n_single:,} events one per request (`POST /api/v1/lineage`) from one producer and a read,
{n_single:,} more from {args.producers} producers at once (threads of the client process, a keep-alive connection
each), then {n_batched:,} in batches of {batch} (`POST /api/v1/lineage/batch`) from one producer
and {n_batched:,} more from {args.batch_producers} at once, then one untimed read, so that each round
starts with every event projected; {args.rounds} rounds,
every server in turn each round, medians shown. Baselines, measured in the same rounds: a no-op
FastAPI app under the same uvicorn (the HTTP ceiling), and a plain INSERT of the same JSON with a
commit per event into the same database (the storage ceiling of one event per request: on
PostgreSQL each commit waits for the WAL flush). "Accepted" counts answered requests (the event is
validated, durable and in the hash chain). A single event is answered ahead of FastAPI's routing (`api.ingest.SingleEvents`), is one
autocommit statement on PostgreSQL and, on SQLite, is appended on the server's event loop when no
other writer holds the lock; concurrent single events share commits (group commit: on the event loop on PostgreSQL,
`headwater.store.async_append`; in worker threads on SQLite, `headwater.store.group_commit`). "Readable" is the rate counted until one read sent after
the last event (one producer's single events; the last batch) answers, which Headwater does only once every accepted event is projected into the
lineage tables (`headwater serve` runs a projector process beside the server; the read projects
what is left). Client, server, projector and PostgreSQL share the machine's 2 cores. "Vs both in
series" compares one producer's rate with the best a server could do that answers each request
only after its commit: the no-op request's time plus one plain commit's, one after the other
(1 / (1 / HTTP ceiling + 1 / storage ceiling)); no per-event work, no projector. On PostgreSQL,
whose commit waits for the WAL flush, that bound itself is about half the HTTP ceiling.
Reproduce: `python benchmarks/bench_api.py`.

| server | 1 producer accepted/s | vs HTTP ceiling | vs storage ceiling | vs both in series (bound) | 1 producer readable/s (vs HTTP ceiling) | {args.producers} producers accepted/s | vs HTTP ceiling | vs storage ceiling | batched accepted/s | vs HTTP ceiling | batched readable/s | batched, {args.batch_producers} producers, accepted/s | vs HTTP ceiling |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

One producer's single events, each request's time (ms; medians over rounds): what a producer
waits for an event to be accepted, the projector working meanwhile.

| server | p50 | p99 | longest |
|---|---|---|---|
{chr(10).join(latency_rows)}
"""
    write_report("api", "HTTP ingest benchmark", text_)


def _stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    proc.terminate()
    proc.wait()


if __name__ == "__main__":
    main()
