"""Engines for the store's databases: the URL forms, SQLite's files and settings, lost connections.

SQLite: a store is two files, its own (the lineage tables) and its event log's
(:func:`sqlite_log_path`); appends write only the log's, so they never wait for the
projection's writes. Each connection runs in WAL mode with ``synchronous=NORMAL``, a
``busy_timeout`` and foreign keys on, and begins its write transactions ``IMMEDIATE``.
PostgreSQL: one database, a pool without pre-ping whose connections the server dropped are
discarded on use (:func:`lost_connection`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext, make_url

from headwater.store.base import StoreError
from headwater.store.jsontext import json_dumps, json_loads

READ_ONLY = "headwater_read_only"  # execution option: a read transaction (SQLite: deferred)


def normalize_url(url: str) -> str:
    """Map user-facing URLs to SQLAlchemy ones (``postgresql://`` uses psycopg 3).

    Raises:
        StoreError: a URL of another database.
    """
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("sqlite://", "postgresql+psycopg://")):
        return url
    msg = f"unsupported store URL {url!r}: use sqlite:///path/to/file.db or postgresql://user@host:port/db"
    raise StoreError(msg)


def _create_log_file(path: Path) -> None:
    """SQLite: make sure the event log's file exists, in WAL mode, before it is attached
    read-only (a read-only connection cannot create it)."""
    if path.exists():
        return
    conn = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")  # kept in the file; concurrent creators agree
    finally:
        conn.close()


_SQLITE_CACHE_KIB = 64 * 1024
LOG_SCHEMA = "log"  # SQLite: the name the event log's file is attached under


def sqlite_log_path(url: str) -> Path:
    """SQLite: the file of the store's event log, beside the store's own file.

    ``headwater.db`` keeps its log in ``headwater.events.db`` (``store`` in ``store.events``):
    appends write only there, so they never wait for the projection's writes, which hold the
    store file's write lock (``docs/store.md``, "Append, then project").

    Raises:
        StoreError: not a SQLite URL of a file (an in-memory database has no second file).
    """
    parsed = make_url(normalize_url(url))
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database:
        raise StoreError(f"{url!r}: the SQLite store needs a file (sqlite:///path/to/file.db)")
    if database == ":memory:" or database.startswith("file:"):
        raise StoreError(f"{url!r}: the SQLite store needs a file path (sqlite:///path/to/file.db)")
    path = Path(database)
    return path.with_name(f"{path.stem}.events{path.suffix}")


def _sqlite_file_uri(path: Path, mode: str) -> str:
    """A SQLite URI filename for ``path`` (percent-encoded: a path may hold ``?`` or ``#``)."""
    return f"file:{quote(str(path.resolve()))}?mode={mode}"


def create_engine_for(url: str, *, wait: bool = True, log: bool = False) -> Engine:
    """An engine configured for concurrent, durable lineage writes.

    Args:
        url: the store URL.
        wait: SQLite: a write waits up to a minute for another writer's lock (False: it fails
            at once with "database is locked").
        log: SQLite: an engine on the event log's own file (:func:`sqlite_log_path`), which
            appends write to. Else the store's file, with the log attached read-only under
            :data:`LOG_SCHEMA`: its tables are found by their plain names (SQLite looks a name
            up in the main file first, then in the attached ones), and a write transaction
            (``BEGIN IMMEDIATE``) takes the store file's write lock only, never the log's.
    """
    url = normalize_url(url)
    codec: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": json_loads}
    if url.startswith("sqlite"):
        log_file = sqlite_log_path(url)
        busy_ms = 60_000 if wait else 0
        # The store's file is opened by URI (``mode=rwc``, as a path would be), so that SQLite
        # reads the log's URI when attaching it (``mode=ro``) on every build, not only on those
        # compiled to read URIs everywhere.
        given = make_url(url)
        target = (
            given.set(database=str(log_file))
            if log
            else given.set(
                database=f"file:{quote(str(Path(str(given.database)).resolve()))}"
            ).update_query_dict({"mode": "rwc", "uri": "true"})
        )
        engine = create_engine(
            target, connect_args={"timeout": busy_ms / 1000, "check_same_thread": False}, **codec
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" hook issue BEGIN
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={busy_ms:d}")  # an int of ours, not input
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            # Up to 64 MiB of pages per connection (SQLite's default: 2 MiB), allocated as used:
            # past a few thousand events the lineage tables' indexes no longer fit in 2 MiB, and
            # every projection insert re-read index pages from the OS (13% of the projection's
            # writes at 28,500 events).
            cur.execute(f"PRAGMA cache_size=-{_SQLITE_CACHE_KIB:d}")
            if not log:
                _create_log_file(log_file)
                cur.execute(
                    f"ATTACH DATABASE ? AS {LOG_SCHEMA}", (_sqlite_file_uri(log_file, "ro"),)
                )
            if not wait:  # checkpoints (and their fsyncs) are left to the waiting connections
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        # Writes take the write lock when they begin (a deferred transaction that writes after
        # another writer committed fails at once, whatever busy_timeout says); reads marked
        # READ_ONLY (`SqlStore._read`) begin deferred and, in WAL mode, never wait for a writer
        # nor block one.
        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            read_only = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    # Multi-row writes go through psycopg's pipelined executemany: one short statement psycopg
    # parses once and caches. SQLAlchemy's default (one INSERT with thousands of placeholders per
    # page) made psycopg re-parse a huge query string with a regex on every call, which took
    # about half the time of appending a batch.
    # No pre-ping: it is one more round trip per checkout (a quarter of a single-event append's
    # time). A connection the server dropped is detected on use instead, which discards the
    # pool; writes retry once (`SqlStore._write`), connections are recycled hourly.
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=10,
        pool_recycle=3600,
        use_insertmanyvalues=False,
        **codec,
    )

    @event.listens_for(engine, "handle_error")
    def _pg_lost(ctx: ExceptionContext) -> None:
        if not ctx.is_disconnect and lost_connection(ctx.original_exception):
            ctx.is_disconnect = True  # discard it (never reset into the pool), retry

    return engine


# SQLSTATE classes of a session that is gone: connection exceptions and operator
# intervention (pg_terminate_backend, shutdown, a server not accepting connections yet).
_LOST_STATES = ("08", "57P01", "57P02", "57P03")


def lost_connection(exc: BaseException) -> bool:
    """Whether a PostgreSQL driver error leaves its connection unusable.

    SQLAlchemy's psycopg dialect asks libpq, which says so only once it has read the socket's
    end. When the server closed the socket while psycopg waited to send (a backend killed
    between two writes), psycopg raises "connection socket closed" first and libpq still
    holds the unsent command; the pool would reset that connection ("another command is
    already in progress") and hand it out again. Any error of the client side of the
    protocol (no SQLSTATE) or of a session the server ended is such a loss.

    Args:
        exc: the driver's exception.
    """
    import psycopg

    if not isinstance(exc, psycopg.OperationalError):
        return False
    state = exc.sqlstate
    return state is None or state.startswith(_LOST_STATES)
