"""Helpers shared by the benchmark scripts: timing, percentiles, the markdown report."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "benchmarks"
PG_ADMIN = os.environ.get("HEADWATER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def machine() -> str:
    """One line describing where and when the figures were measured, and how fast the CPU ran."""
    return (
        f"{os.cpu_count()} cores, {_mem_gib():.0f} GiB, {platform.machine()}, Python "
        f"{platform.python_version()}, {dt.date.today()}; interpreter speed at the time: "
        f"{loop_ns():.0f} ns per loop iteration (`common.loop_ns`)"
    )


def loop_ns(iterations: int = 2_000_000) -> float:
    """Nanoseconds per iteration of a plain Python loop (median of 5): how fast this machine runs
    Python right now. Shared machines drift (here the same walk took 93 ms, then 150 ms within
    the hour), so absolute figures of different runs compare only through this; ratios to a
    baseline of the same run do not need it."""
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        total = 0
        for i in range(iterations):
            total += i
        samples.append((time.perf_counter() - start) / iterations * 1e9)
    return statistics.median(samples)


def _mem_gib() -> float:
    try:
        with open("/proc/meminfo") as f:
            return int(f.readline().split()[1]) / 1024 / 1024
    except OSError:
        return 0.0


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds of samples given in seconds."""
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return p50 * 1000, p95 * 1000


def rate(count: int, fn: Callable[[], None]) -> float:
    """Items per second of running ``fn`` (which processes ``count`` items)."""
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def write_report(topic: str, title: str, body: str) -> Path:
    """Write ``docs/benchmarks/<topic>.md`` and echo it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = f"# {title}\n\nMeasured on {machine()}.\n\n{body.strip()}\n"
    path = RESULTS / f"{topic}.md"
    path.write_text(text)
    print(text)
    return path


class PgDatabase:
    """A throwaway PostgreSQL database (created on enter, dropped on exit)."""

    def __enter__(self) -> str:
        self.name = f"headwater_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + self.name

    def __exit__(self, *exc: object) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


class Const:
    """A context manager that yields a fixed value (the SQLite twin of :class:`PgDatabase`)."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __enter__(self) -> str:
        return self.value

    def __exit__(self, *exc: object) -> None:
        return None


def analyze(store: Any) -> None:
    """Refresh PostgreSQL's planner statistics after a bulk load, as autovacuum would.

    This server runs with autovacuum off; a production one analyzes a freshly loaded table
    within a minute or so. Without statistics PostgreSQL guesses how many rows match a value
    of a non-unique column (1 in 200) and prefers scanning whole tables.
    """
    from sqlalchemy import text

    if store.dialect == "postgresql":
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
