"""``ingest_async``: single events from an event loop, on both backends.

On PostgreSQL an uncontended event goes through an asyncio connection
(``headwater.store.async_append``); it must log exactly what ``ingest`` logs, survive a dropped
connection and another event loop, and leave nothing of a rejected event.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text
from test_ingest_nowait import LOGGED, _events

from factories import dataset, run_event
from headwater.model import EventValidationError, JobId
from headwater.store import open_store
from headwater.store import schema as t
from headwater.store.audit import verify_chain


def _log(store) -> list[tuple]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(*(t.events.c[c] for c in LOGGED)).order_by(t.events.c.id))
        return [tuple(r) for r in rows]


def test_it_logs_what_ingest_logs(store_url, twin_store_url):
    payloads = _events(6)
    waiting, looping = open_store(store_url), open_store(twin_store_url)

    async def send() -> list:
        return [await looping.ingest_async(p) for p in payloads]

    for p in payloads:
        waiting.ingest(p)
    results = asyncio.run(send())
    assert [r.duplicate for r in results] == [False] * 6
    assert _log(looping) == _log(waiting) and len(_log(looping)) == 6
    assert verify_chain(looping).ok
    again = asyncio.run(looping.ingest_async(payloads[2]))  # another loop, a duplicate
    assert again.duplicate and again.event_id == results[2].event_id
    assert len(_log(looping)) == 6
    assert len(looping.list_runs(JobId("pipelines", "job0"))[0]) == 2
    waiting.close()
    looping.close()


def test_concurrent_events_each_logged_once(store):
    """From one loop at once: each event logged once, duplicates found, the chain whole."""
    payloads = _events(30)

    async def send() -> list:
        return await asyncio.gather(*(store.ingest_async(p) for p in payloads + payloads[:10]))

    results = asyncio.run(send())
    assert sum(not r.duplicate for r in results) == 30
    ids = {r.event_id for r in results}
    assert len(ids) == 30
    assert len(_log(store)) == 30 and verify_chain(store).ok


def test_a_rejected_event_leaves_nothing(store):
    asyncio.run(store.ingest_async(_events(1)[0]))
    bad = run_event(job="bad", outputs=[dataset("x")])
    bad["run"]["runId"] = 7
    with pytest.raises(EventValidationError):
        asyncio.run(store.ingest_async(bad))
    assert len(_log(store)) == 1 and verify_chain(store).ok


@pytest.mark.postgres
def test_a_dropped_connection_is_replaced(fresh_postgres_url):
    store = open_store(fresh_postgres_url)
    payloads = _events(2)

    async def send() -> None:
        await store.ingest_async(payloads[0])
        with store.engine.begin() as conn:  # the server ends the loop's connection
            dropped = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalars()
            assert any(dropped)
        await store.ingest_async(payloads[1])

    asyncio.run(send())
    assert len(_log(store)) == 2 and verify_chain(store).ok
    store.close()


@pytest.mark.parametrize("held", [0.05, 0.6])
def test_sqlite_appends_from_the_loop_once_another_writer_lets_go(tmp_path, held):
    """Another writer holds the file's lock: the loop's append tries again every few ms (the
    loop stays free meanwhile) and lands soon after the lock is released; held longer than the
    polling lasts, the append waits in a worker thread instead, and lands all the same."""
    import sqlite3
    import time

    path = tmp_path / "held.db"
    store = open_store(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def send() -> tuple[float, int]:
        task = asyncio.ensure_future(store.ingest_async(_events(1)[0]))
        ticks = 0
        started = time.monotonic()
        while time.monotonic() - started < held:  # the loop keeps running
            await asyncio.sleep(0.005)
            ticks += 1
        other.execute("COMMIT")
        released = time.monotonic()
        await task
        return time.monotonic() - released, ticks

    after, ticks = asyncio.run(send())
    assert ticks >= held / 0.005 / 3  # the loop was not blocked while the append waited
    assert after < 0.2, f"the append landed {after:.3f} s after the lock was released"
    assert len(_log(store)) == 1 and verify_chain(store).ok
    other.close()
    store.close()


@pytest.mark.postgres
def test_events_arriving_during_an_append_share_one_commit(fresh_postgres_url):
    """PostgreSQL: the events that queue up while an append is in flight are appended in one
    transaction (rows inserted by one transaction share its ``xmin``), in arrival order."""
    store = open_store(fresh_postgres_url)
    payloads = _events(30)

    async def send() -> list:
        return await asyncio.gather(*(store.ingest_async(p) for p in payloads + payloads[:5]))

    try:
        results = asyncio.run(send())
        assert [r.duplicate for r in results] == [False] * 30 + [True] * 5
        assert [r.event_id for r in results[30:]] == [r.event_id for r in results[:5]]
        with store.engine.connect() as conn:
            transactions = conn.execute(
                text("SELECT count(DISTINCT xmin::text) FROM events")
            ).scalar()
            order = conn.execute(text("SELECT id FROM events ORDER BY id")).scalars().all()
        assert transactions == 2  # the first alone, the 34 that queued behind it together
        assert order == [r.event_id for r in results[:30]]
        assert verify_chain(store).ok
    finally:
        store.close()


@pytest.mark.postgres
def test_an_event_the_database_refuses_in_a_group_fails_alone(fresh_postgres_url):
    """PostgreSQL: one event of a group refused by the database (here a content hash longer
    than its column) rolls the group back; the others are appended one by one and land."""
    from dataclasses import replace
    from datetime import UTC, datetime

    from sqlalchemy.exc import DBAPIError

    from headwater.model.events import parse_header

    store = open_store(fresh_postgres_url)
    first, good, other = (parse_header(p) for p in _events(3))
    bad = replace(parse_header(_events(4)[3]), content_hash="f" * 65)
    appender = store._async
    assert appender is not None

    async def send() -> list:
        now = datetime.now(UTC)
        return await asyncio.gather(
            *(appender.append(e, now) for e in (first, good, bad, other)),
            return_exceptions=True,
        )

    try:
        results = asyncio.run(send())
        assert isinstance(results[2], DBAPIError) and "too long" in str(results[2])
        assert [r[1] for i, r in enumerate(results) if i != 2] == [False] * 3
        assert len(_log(store)) == 3 and verify_chain(store).ok
    finally:
        store.close()


@pytest.mark.postgres
def test_a_steady_stream_does_not_hold_the_first_answer_back(fresh_postgres_url):
    """PostgreSQL: the request that led a group answers once its own event is in, while new
    requests keep arriving (as a server's do, during the commits); a task takes the rest on."""
    store = open_store(fresh_postgres_url)
    payloads = _events(60)
    done: list[int] = []

    async def request(k: int) -> None:
        await store.ingest_async(payloads[k])
        done.append(k)

    async def send() -> None:
        tasks = []
        for k in range(len(payloads)):
            tasks.append(asyncio.ensure_future(request(k)))
            await asyncio.sleep(0.001)  # the next request arrives while commits are in flight
        await asyncio.gather(*tasks)

    try:
        asyncio.run(send())
        assert sorted(done) == list(range(60))
        assert done.index(0) < 5, done  # not once the stream it led has dried up
        assert len(_log(store)) == 60 and verify_chain(store).ok
    finally:
        store.close()


@pytest.mark.postgres
def test_a_cancelled_leader_fails_its_group_and_the_queue_goes_on(fresh_postgres_url):
    """PostgreSQL: the leading request cancelled mid-append: its group's callers see the
    cancellation, the events queued behind it are still appended, the chain stays whole."""
    store = open_store(fresh_postgres_url)
    payloads = _events(12)

    async def send() -> list:
        leader = asyncio.ensure_future(store.ingest_async(payloads[0]))
        await asyncio.sleep(0)  # it is appending now
        followers = [asyncio.ensure_future(store.ingest_async(p)) for p in payloads[1:]]
        await asyncio.sleep(0)
        leader.cancel()
        return await asyncio.gather(leader, *followers, return_exceptions=True)

    try:
        results = asyncio.run(send())
        assert isinstance(results[0], asyncio.CancelledError)
        landed = [r for r in results[1:] if not isinstance(r, BaseException)]
        assert len(landed) == 11, results
        again = [asyncio.run(store.ingest_async(p)) for p in payloads]  # all there, or now
        assert sum(not r.duplicate for r in again) <= 1
        assert len(_log(store)) == 12 and verify_chain(store).ok
    finally:
        store.close()
