"""``ingest_nowait``: SQLite's single-event append on the server's event loop, through the driver.

It must log exactly what ``ingest`` logs (same rows, same chain), give way at once to another
writer, and leave nothing behind when it fails.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from factories import dataset, run_event
from headwater.model import DatasetId
from headwater.store import open_store
from headwater.store import schema as t
from headwater.store.audit import verify_chain
from headwater.store.engine import sqlite_log_path
from headwater.store.ingest import _LOG_COLUMNS, event_columns
from headwater.store.prepared import Prepared

LOGGED = [c.name for c in t.events.c if c.name not in ("id", "received_at")]


def _events(n: int) -> list[bytes]:
    return [
        json.dumps(
            run_event(
                job=f"job{i % 3}",
                inputs=[dataset(f"in{i}", fields=["a"])],
                outputs=[dataset(f"out{i}", fields=["a"])],
                at=i,
            )
        ).encode()
        for i in range(n)
    ]


def _log(store) -> list[tuple]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*(t.events.c[c] for c in LOGGED)))]


def test_it_logs_what_ingest_logs(tmp_path):
    payloads = _events(6)
    waiting = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    loop = open_store(f"sqlite:///{tmp_path / 'b.db'}")
    for p in payloads:
        waiting.ingest(p)
        assert loop.ingest_nowait(p) is not None
    assert _log(loop) == _log(waiting) and len(_log(loop)) == 6
    assert verify_chain(loop).ok
    with loop.engine.connect() as conn:  # stored by the same bind processor as ingest's
        received = conn.execute(select(t.events.c.received_at)).scalars().all()
    with waiting.engine.connect() as conn:
        expected = conn.execute(select(t.events.c.received_at)).scalars().all()
    assert [type(r) for r in received] == [type(r) for r in expected]
    assert max(abs((a - b).total_seconds()) for a, b in zip(received, expected, strict=True)) < 60
    assert loop.get_dataset(DatasetId("warehouse", "out5"))["name"] == "out5"
    again = loop.ingest_nowait(payloads[2])
    assert again is not None and again.duplicate and again.event_id == 3
    assert len(_log(loop)) == 6
    waiting.close()
    loop.close()


def test_it_gives_way_to_another_writer_and_leaves_nothing(tmp_path):
    path = tmp_path / "h.db"
    store = open_store(f"sqlite:///{path}")
    first, second = _events(2)
    assert store.ingest_nowait(first) is not None
    other = sqlite3.connect(sqlite_log_path(f"sqlite:///{path}"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another appender holds the log file's write lock
    try:
        assert store.ingest_nowait(second) is None  # at once: the caller falls back to ingest
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert len(_log(store)) == 1
    assert store.ingest_nowait(second) is not None
    assert len(_log(store)) == 2 and verify_chain(store).ok
    store.close()


def test_appends_do_not_wait_for_the_projections_writes(tmp_path):
    """The log has a file of its own: a write transaction on the store's file (the projector's)
    holds that file's lock only, and an append goes on meanwhile."""
    path = tmp_path / "h.db"
    store = open_store(f"sqlite:///{path}")
    first, second = _events(2)
    store.ingest(first)
    with store.engine.begin() as conn:  # BEGIN IMMEDIATE on the store's file, as projection
        conn.execute(update(t.projection).values(event_id=t.projection.c.event_id))
        appended = store.ingest_nowait(second)  # not None: the log's lock was free
        assert appended is not None and appended.event_id == 2
        with pytest.raises(OperationalError, match="readonly"):  # the log is read-only here
            conn.execute(delete(t.events))
    assert len(_log(store)) == 2 and verify_chain(store).ok
    assert store.catch_up() == 2
    store.close()


def test_a_failed_append_rolls_back(tmp_path, monkeypatch):
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    first, second = _events(2)
    store.ingest_nowait(first)

    def broken(*_args):
        raise sqlite3.IntegrityError("refused")

    monkeypatch.setattr(store._sqlite_append, "_move_head", type("X", (), {"execute": broken})())
    with pytest.raises(IntegrityError):  # the driver's error, as SQLAlchemy's
        store.ingest_nowait(second)  # the event was inserted, the head not moved: rolled back
    with pytest.raises(IntegrityError):
        store.ingest(second)  # the waiting path appends the same way
    monkeypatch.undo()
    assert len(_log(store)) == 1 and verify_chain(store).ok
    assert store.ingest_nowait(second) is not None and verify_chain(store).ok
    store.close()


@pytest.mark.postgres
def test_postgres_has_no_nowait_path(fresh_postgres_url):
    store = open_store(fresh_postgres_url)
    assert store.ingest_nowait(_events(1)[0]) is None
    store.close()


def test_the_prepared_insert_names_every_logged_column():
    from datetime import UTC, datetime

    from headwater.model.events import parse_event

    row = event_columns(parse_event(_events(1)[0]), datetime.now(UTC))
    assert (
        set(row) | {"prev_hash", "chain_hash"}
        == set(_LOG_COLUMNS)
        == {c.name for c in t.events.c} - {"id"}
    )


def test_prepared_statements_refuse_named_paramstyles():
    from sqlalchemy.dialects import postgresql

    with pytest.raises(ValueError, match="positional"):
        Prepared(select(t.events.c.id), postgresql.psycopg.dialect())


def test_whoever_projects_checkpoints_the_log(tmp_path):
    """The event loop's appends never checkpoint (an fsync there would stall it) and the store's
    connections attach the log read-only: projecting checkpoints the log, so that its WAL starts
    over instead of growing with every event."""
    path = tmp_path / "h.db"
    store = open_store(f"sqlite:///{path}")
    wal = Path(f"{sqlite_log_path(f'sqlite:///{path}')}-wal")
    payloads = _events(400)
    for payload in payloads[:200]:
        assert store.ingest_nowait(payload) is not None
    first = wal.stat().st_size
    assert store.catch_up() == 200
    for payload in payloads[200:]:
        assert store.ingest_nowait(payload) is not None
    assert wal.stat().st_size < first * 1.25  # written from its start again, not appended to
    assert store.catch_up() == 200 and len(_log(store)) == 400
    store.close()
