"""The projector keeps close behind the log without starving the appends it follows."""

import sqlite3
import threading
import time

import pytest

from factories import dataset, run_event
from headwater.model import JobId
from headwater.store import open_store
from headwater.store.projector import BackgroundProjector, follow, pause_after


def _backlog(store, count: int) -> None:
    events = [
        run_event(job=f"job{i}", inputs=[dataset(f"in{i}")], outputs=[dataset(f"out{i}")])
        for i in range(count)
    ]
    for i in range(0, count, 500):
        store.ingest_many(events[i : i + 500])


def test_an_append_gets_in_while_the_follower_works_through_a_backlog(store_url):
    """On SQLite a projection transaction holds the file's write lock: back to back, an append
    waited for the whole backlog. The follower leaves the lock to appends between batches."""
    writer = open_store(store_url)
    follower = open_store(store_url)  # as in its own process
    _backlog(writer, 1500)
    stop = threading.Event()
    thread = threading.Thread(target=follow, args=(follower, stop), kwargs={"batch": 100})
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while writer.pending() == 1500 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert writer.pending() < 1500, "the follower did not start"
        writer.ingest(run_event(job="late", outputs=[dataset("late_out")]))
        left = writer.pending()
        assert left > 100, f"the append waited until the backlog was projected ({left} left)"
    finally:
        stop.set()
        thread.join(60)
    writer.catch_up()
    assert writer.pending() == 0
    assert len(writer.list_runs(JobId("pipelines", "late"))[0]) == 1
    writer.close()
    follower.close()


def test_the_background_projector_projects_a_backlog_batch_by_batch(store_url):
    store = open_store(store_url)
    projector = BackgroundProjector(store, gather=0.01, poll=0.05, batch=100)
    projector.start()
    try:
        _backlog(store, 350)  # each append wakes it
        deadline = time.monotonic() + 60
        while store.pending() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.pending() == 0
    finally:
        projector.stop()
    store.close()


@pytest.mark.parametrize(
    ("done", "expected"),
    [
        (40, 0.25),  # caught up: poll again after the interval
        (100, 0.0),  # behind: the next batch at once (appends never wait for projection)
    ],
)
def test_pause_after_a_batch(done, expected):
    assert pause_after(done, 100, 0.25) == expected


def test_sqlite_computes_a_batch_without_the_write_lock(tmp_path, monkeypatch):
    """SQLite: a batch's projection is computed on a read snapshot, so another writer of the
    store's file (a tag, another process's projector) takes the file's write lock meanwhile,
    and an append (the log's own file) lands meanwhile too."""
    import headwater.store.sql as sql

    path = tmp_path / "lineage.db"
    projector, producer = open_store(f"sqlite:///{path}"), open_store(f"sqlite:///{path}")
    _backlog(producer, 50)
    landed, locked = [], []
    real_prepare = sql.prepare

    def prepare_while_writing(*args, **kwargs):
        if not landed:  # once: while the first batch is computed
            other = sqlite3.connect(path, timeout=0, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")  # fails at once if the projector held the lock
                locked.append(True)
                other.execute("ROLLBACK")
            finally:
                other.close()
            late = run_event(job="late", outputs=[dataset("late_out")])
            landed.append(producer.ingest_nowait(late))
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr(sql, "prepare", prepare_while_writing)
    try:
        assert projector.catch_up() == 51  # the backlog, then the event appended meanwhile
        assert locked == [True]
        assert landed[0] is not None and not landed[0].duplicate
        assert projector.pending() == 0
    finally:
        projector.close()
        producer.close()


def test_a_batch_computed_ahead_is_not_written_over_a_newer_projection(tmp_path):
    """SQLite: a batch computed on a snapshot is dropped, not written, when another process
    projected those events meanwhile; the tables hold each event once."""
    from functools import partial

    from headwater.store.projection import prepare

    url = f"sqlite:///{tmp_path / 'lineage.db'}"
    first, other = open_store(url), open_store(url)
    try:
        _backlog(first, 20)
        with first._reader() as conn:
            mark = first._watermark(conn)
            rows = first._next_events(conn, mark, 500)
            ready = prepare(conn, first._insert, first._stored_events(rows))
        assert other.catch_up() == 20  # meanwhile
        write = partial(first._write_prepared, mark=mark, rows=rows, ready=ready)
        assert first._write(write) is None
        assert first.pending() == 0
        assert first.list_jobs("pipelines")[1] == 20
    finally:
        first.close()
        other.close()


def test_sqlite_holds_the_write_lock_only_to_run_the_writes(tmp_path):
    """SQLite: every parameter of a batch's writes is built on the snapshot, new job versions
    take planned ids; in the write transaction only INSERTs and UPDATEs run, no read."""
    from headwater.store.projection import prepare

    url = f"sqlite:///{tmp_path / 'lineage.db'}"
    store = open_store(url)
    try:
        _backlog(store, 30)
        with store._reader() as conn:
            rows = store._next_events(conn, store._watermark(conn), 500)
            ready = prepare(conn, store._insert, store._stored_events(rows))
        statements: list[str] = []
        with store.engine.begin() as conn:
            driver = conn.connection.driver_connection
            driver.set_trace_callback(statements.append)
            try:
                ready.write(conn)
            finally:
                driver.set_trace_callback(None)
            store._set_watermark(conn, int(rows[-1].id))
        verbs = {s.split()[0].upper() for s in statements}
        assert verbs and verbs <= {"INSERT", "UPDATE"}, statements
        assert len(statements) >= 30 * 6  # a job, job version, run, ... per event
        assert store.pending() == 0
        assert store.list_jobs("pipelines")[1] == 30
        jobs = store.list_jobs("pipelines")[0]
        assert all(j["latestRun"]["state"] == "COMPLETED" for j in jobs)
    finally:
        store.close()
