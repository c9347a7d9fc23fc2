"""The SQLAlchemy implementation of :class:`LineageStore`, for SQLite and PostgreSQL.

Backend differences are confined to :func:`headwater.store.engine.create_engine_for` (SQLite:
WAL, ``busy_timeout``, foreign keys, ``BEGIN IMMEDIATE`` so concurrent writers queue instead of
failing on lock upgrade, the event log in a file of its own that appends write through
:attr:`SqlStore.log_engine`), :meth:`SqlStore._store` (PostgreSQL: a single event is appended in
one autocommit statement, :func:`headwater.store.ingest.append_one`; writers serialize on the
chain head's row across server workers) and ``headwater.store.search._json_objects`` (search expands a
stored JSON array with ``json_each`` or ``jsonb_array_elements``). Every query is built with
SQLAlchemy Core: parameterized.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    func,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from headwater.gcpause import pausing_gc
from headwater.model.events import (
    EventHeader,
    EventParseError,
    EventValidationError,
    ValidatedEvent,
    parse_header,
)
from headwater.model.nodes import DatasetId, JobId
from headwater.store import entities, traversal, views
from headwater.store import schema as t
from headwater.store.async_append import AsyncAppender
from headwater.store.base import (
    SEARCH_MATCHES,
    BatchItemResult,
    ColumnEdge,
    ColumnReach,
    IngestResult,
    Json,
    LineageStore,
    NotFound,
    Payload,
    ReachedColumn,
    SearchKind,
    SearchMatch,
    SearchSort,
    StoreError,
    TableEdges,
)
from headwater.store.bulk import driver_error
from headwater.store.column_index import ColumnIndex
from headwater.store.engine import LOG_SCHEMA, READ_ONLY, create_engine_for, sqlite_log_path
from headwater.store.group_commit import GroupCommit
from headwater.store.ingest import (
    SqliteAppend,
    append,
    append_one,
    lock_chain,
    stored_event,
)
from headwater.store.node_cache import LogPosition, NodeCache, Touched, touched_by
from headwater.store.projection import PreparedBatch, prepare, project
from headwater.store.search import search_queries, search_result

PROJECT_LOCK_KEY = 0x48_57_50_52  # "HWPR": serializes projectors across processes
_PROJECTION = "graph"  # the watermark's row in ``projection``
_PROJECT_BATCH = 500  # events per projection transaction
_T = TypeVar("_T")
_Node = TypeVar("_Node", DatasetId, JobId)
_WATERMARK = select(t.projection.c.event_id).where(t.projection.c.name == _PROJECTION)
_LOG_POSITION = select(
    select(func.max(t.events.c.id)).scalar_subquery(), _WATERMARK.scalar_subquery()
)
# SQLite: whether the attached log's file holds the log (one that was lost is created empty)
_LOG_CATALOG = sa_table("sqlite_master", sa_column("type"), sa_column("name"), schema=LOG_SCHEMA)
_LOG_TABLES_ATTACHED = (
    select(func.count())
    .select_from(_LOG_CATALOG)
    .where(_LOG_CATALOG.c.type == "table", _LOG_CATALOG.c.name == t.events.name)
)
_NODE_POSITION = select(  # what the node cache's JSON reflects (see node_cache.LogPosition)
    _WATERMARK.scalar_subquery(),
    select(func.count()).select_from(t.dataset_tags).scalar_subquery(),
    select(func.max(t.dataset_tags.c.tagged_at)).scalar_subquery(),
)
log = logging.getLogger(__name__)
_INDEX_EDGES = 1_000_000  # default bound of the in-memory column index (about 130 MB)
_INDEX_RELOAD = 20_000  # events since the index's last refresh past which it is reloaded whole
_INDEX_FACET_EVENTS = 500  # past this many events since the last refresh, all cached facets go
_NODE_CACHE = 50_000  # default bound of the node cache, in datasets and jobs (~7 KiB each)
_NODE_RELOAD = 5_000  # events since the node cache's last refresh past which it is emptied


def _count_setting(variable: str, default: int, unit: str, zero: str) -> int:
    """A bound read from the environment variable ``variable``: a whole number of ``unit``, 0 or
    more (``zero``: what 0 means), underscores allowed; ``default`` when unset.

    Raises:
        StoreError: a value that is not a whole number, 0 or more.
    """
    value = os.environ.get(variable, "").strip()
    if not value:
        return default
    try:
        count = int(value.replace("_", ""))
    except ValueError:
        count = -1
    if count < 0:
        msg = f"{variable} must be a number of {unit}, 0 or more (0: {zero}); got {value!r}"
        raise StoreError(msg)
    return count


def _index_edges_setting() -> int:
    """``HEADWATER_COLUMN_INDEX_EDGES``: the in-memory column index's bound (0: no index)."""
    return _count_setting("HEADWATER_COLUMN_INDEX_EDGES", _INDEX_EDGES, "edges", "no index")


def _node_cache_setting() -> int:
    """``HEADWATER_NODE_CACHE``: the node cache's bound, in datasets and jobs (0: no cache)."""
    return _count_setting("HEADWATER_NODE_CACHE", _NODE_CACHE, "nodes", "no cache")


def _dbapi_error(exc: sqlite3.Error) -> DBAPIError:
    """The SQLAlchemy error (``OperationalError``, ``IntegrityError``, ...) for SQLite's error."""
    return driver_error(exc, sqlite3.Error)


# SQLite: seconds an event loop's append tries for the lock before a worker thread waits for it
_NOWAIT_POLL = 0.25


def keys_in(
    namespace_col: Any, name_col: Any, keys: Iterable[tuple[str, str]]
) -> ColumnElement[bool]:
    """``(namespace, name) IN keys`` written so both backends use the unique index.

    SQLite does not use an index for a row-value ``IN`` list; ``namespace = ? AND name IN (...)``
    per namespace (there are few) does.
    """
    by_ns: dict[str, list[str]] = defaultdict(list)
    for ns, name in keys:
        by_ns[ns].append(name)
    return or_(*(and_(namespace_col == ns, name_col.in_(names)) for ns, names in by_ns.items()))


def _column_edge_select(source: Any, version: Any, out_ds: Any, in_ds: Any) -> Any:
    """Column edges of the job versions given by ``(source, version)``, with job and dataset names."""
    edges = t.column_edges
    return (
        select(
            t.jobs.c.namespace.label("job_ns"),
            t.jobs.c.name.label("job_name"),
            out_ds.c.namespace.label("out_ns"),
            out_ds.c.name.label("out_name"),
            edges.c.out_field,
            in_ds.c.namespace.label("in_ns"),
            in_ds.c.name.label("in_name"),
            edges.c.in_field,
            edges.c.transformations,
        )
        .select_from(edges)
        .join(source, version == edges.c.job_version_id)
        .join(out_ds, out_ds.c.id == edges.c.out_dataset_id)
        .join(in_ds, in_ds.c.id == edges.c.in_dataset_id)
    )


class SqlStore(LineageStore):
    """Lineage store over SQLite or PostgreSQL.

    Args:
        url: ``sqlite:///path.db``, ``postgresql://user@host:port/db`` or a SQLAlchemy URL.
        column_index_edges: the in-memory column index's bound (None: from
            ``HEADWATER_COLUMN_INDEX_EDGES``; 0: no index).
        node_cache_nodes: the node cache's bound (None: from ``HEADWATER_NODE_CACHE``; 0: no
            cache; see :mod:`headwater.store.node_cache`).

    Attributes:
        engine: the store's engine (on SQLite the lineage tables' file, the event log's
            attached read-only).
        log_engine: the engine appends write the event log through (on SQLite the log's own
            file, :func:`headwater.store.engine.sqlite_log_path`; on PostgreSQL ``engine``).
    """

    def __init__(
        self,
        url: str,
        *,
        column_index_edges: int | None = None,
        node_cache_nodes: int | None = None,
    ) -> None:
        self.url = url
        self.engine = create_engine_for(url)
        self.dialect = self.engine.dialect.name
        # The same pool, each statement a transaction of its own (PostgreSQL's single appends).
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # Where appends write: SQLite's log file (the store's own engine attaches it read-only);
        # on PostgreSQL the same database.
        self.log_engine = (
            create_engine_for(url, log=True) if self.dialect == "sqlite" else self.engine
        )
        # SQLite: connections whose writes fail at once rather than wait (ingest_nowait).
        self._nowait = (
            create_engine_for(url, wait=False, log=True) if self.dialect == "sqlite" else None
        )
        # PostgreSQL: single events from an event loop, on an asyncio connection.
        self._async = AsyncAppender(self.engine.url) if self.dialect == "postgresql" else None
        self._sqlite_append = (
            SqliteAppend(self._nowait.dialect) if self._nowait is not None else None
        )
        self._insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        if column_index_edges is None:
            column_index_edges = _index_edges_setting()
        self._group: GroupCommit[EventHeader, IngestResult] = GroupCommit(self._append_all)
        # Built on the first column walk, so processes that only write never hold it.
        self._column_index = ColumnIndex(column_index_edges) if column_index_edges > 0 else None
        if node_cache_nodes is None:
            node_cache_nodes = _node_cache_setting()
        self._node_cache = NodeCache(node_cache_nodes) if node_cache_nodes > 0 else None

    # -- lifecycle ---------------------------------------------------------------------------
    def upgrade(self) -> None:
        """Create the schema on an empty database, or migrate an older one (Alembic).

        A database at the newest revision is recognized by one read of ``alembic_version``,
        with no lock taken and Alembic not loaded (a CLI command opens the store each time: the
        check through Alembic, which reads every revision's script, took a tenth of a second).
        """
        if not self._at_revision(t.REVISION):
            from headwater.store.migrate import upgrade

            upgrade(self.engine)
        if self.log_engine is not self.engine:
            self._check_log_file()

    def _check_log_file(self) -> None:
        """SQLite: refuse a store whose event log's file is missing (the store's file was
        copied or moved alone): every read would fail on a missing table, and appends would
        start a new chain under the events already projected. A log that lost events is
        opened: ``headwater audit verify`` reports what is missing.

        Raises:
            StoreError: naming the file expected.
        """
        with self._reader() as conn:
            if conn.execute(_LOG_TABLES_ATTACHED).scalar_one():
                return
        log_file = sqlite_log_path(self.url)
        msg = (
            f"{log_file} holds no event log: a SQLite store is two files, the one its URL "
            f"names and {log_file.name} beside it (the log); copy and move them together"
        )
        raise StoreError(msg)

    def _at_revision(self, revision: str) -> bool:
        """Whether the database is stamped with ``revision`` (False for an empty one)."""
        try:
            with self.engine.connect() as conn:
                found = (
                    conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
                )
        except DBAPIError:  # no such table: an empty database, or not Headwater's
            return False
        return found == [revision]

    def close(self) -> None:
        """Dispose of the connection pools."""
        self.engine.dispose()
        if self.log_engine is not self.engine:
            self.log_engine.dispose()
        if self._nowait is not None:
            self._nowait.dispose()
        if self._async is not None:
            self._async.close()

    # -- writes ------------------------------------------------------------------------------
    def ingest(self, payload: Payload) -> IngestResult:
        """Validate and append one event to the log (see :class:`LineageStore`).

        Concurrent calls share transactions (:class:`GroupCommit`): events that arrive while
        another append is in flight are appended together, in one commit, by the next caller
        to write. Each event is still all or nothing, and a refused one fails alone.
        """
        return self._group.submit(parse_header(payload))

    def ingest_nowait(self, payload: Payload) -> IngestResult | None:
        """SQLite: validate and append one event now, unless another writer holds the file's
        write lock (None: call :meth:`ingest`, which waits for it).

        A SQLite append costs CPU and no round trip, so the server's event loop runs it itself
        rather than hand it to a worker thread and back (two thread wake-ups, which cost more
        than the append here); it must never wait there, neither for a lock nor for a WAL
        checkpoint's fsync (these connections leave checkpoints to the projector's).
        """
        if self._nowait is None:
            return None
        return self._append_now(parse_header(payload))

    def _append_now(self, event: EventHeader) -> IngestResult | None:
        """SQLite: :meth:`ingest_nowait` of a validated event."""
        assert self._nowait is not None
        logged = self._append_on_driver(self._nowait, event, datetime.now(UTC), wait=False)
        if logged is None:
            return None
        return self._appended([event], [logged])[0]

    async def _append_soon(self, event: EventHeader) -> IngestResult | None:
        """SQLite: :meth:`_append_now`, tried again every few milliseconds (the loop free
        meanwhile) while another writer holds the log's lock, for up to :data:`_NOWAIT_POLL`
        seconds.

        Another appender (a batch) holds it for milliseconds (a projector, while the log shared
        the store's file, held it for tens of milliseconds); SQLite's busy handler
        (the waiting path) sleeps 1, 2, 5 ... 25, 50, 100 ms between its tries, so a waiter took
        the lock a median 4.5-14 ms after it was free (0.6-2.3 ms polling), and through a worker
        thread.
        """
        deadline = time.monotonic() + _NOWAIT_POLL
        delay = 0.001
        while True:
            result = self._append_now(event)
            if result is not None or time.monotonic() >= deadline:
                return result
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.004)

    async def ingest_async(self, payload: Payload) -> IngestResult:
        """Validate and append one event from an event loop, without blocking it.

        Validation runs on the loop (CPU only). Then, on SQLite, the append too when no other
        writer holds the file's lock (:meth:`ingest_nowait`), tried again every few milliseconds
        for a while when one does, and else in a worker thread through group commit
        (:meth:`ingest`), which shares the commit of appends in flight. On PostgreSQL, on an
        asyncio connection (:class:`headwater.store.async_append.AsyncAppender`: no worker
        thread's two wake-ups, a third of a single append), where events arriving while one is
        in flight share the next commit.
        """
        event = parse_header(payload)
        if self._async is not None:
            logged = await self._async.append(event, datetime.now(UTC))
            return self._appended([event], [logged])[0]
        if self._nowait is not None:
            result = await self._append_soon(event)
            if result is not None:
                return result
        return await asyncio.to_thread(self._group.submit, event)

    def _append_on_driver(
        self, engine: Engine, event: EventHeader, received: datetime, *, wait: bool
    ) -> tuple[int, bool] | None:
        """SQLite: append one event on the driver's connection (taken from ``engine``'s pool),
        its statements prepared (:class:`SqliteAppend`): SQLAlchemy's per-statement work cost
        more than the append itself. Errors are SQLAlchemy's, as from :meth:`_write`.

        Returns:
            ``(event id, duplicate)``; None when ``wait`` is false and another writer holds the
            file's write lock (nothing was written).
        """
        assert self._sqlite_append is not None
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if not wait and "locked" in str(exc):
                    return None
                raise _dbapi_error(exc) from exc
            try:
                logged = self._sqlite_append(cursor, event, received)
                cursor.execute("COMMIT")
            except BaseException as exc:
                if raw.driver_connection is not None and raw.driver_connection.in_transaction:
                    cursor.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise _dbapi_error(exc) from exc
                raise
        finally:
            raw.close()
        return logged

    @pausing_gc  # a batch's decoded events are many objects that reference counting frees
    def ingest_many(self, payloads: Iterable[Payload]) -> list[BatchItemResult]:
        """Validate every item, then append the valid ones; errors are returned per index.

        The valid events are appended in order in one transaction (one commit, one chain lock,
        one multi-row insert). Should the database refuse one of them, that transaction is
        rolled back and the events are appended one transaction each, so the others still land
        and the refused one is reported at its index.
        """
        results: dict[int, BatchItemResult] = {}
        valid: list[tuple[int, EventHeader]] = []
        for i, payload in enumerate(payloads):
            try:
                valid.append((i, parse_header(payload)))
            except (EventParseError, EventValidationError) as exc:
                results[i] = BatchItemResult(i, error=exc)
        outcomes = self._append_all([event for _, event in valid])
        for (i, _), outcome in zip(valid, outcomes, strict=True):
            if isinstance(outcome, DBAPIError):
                refused = ValueError(f"the database refused this event: {outcome.orig}")
                results[i] = BatchItemResult(i, error=refused)
            else:
                results[i] = BatchItemResult(i, result=outcome)
        return [results[i] for i in sorted(results)]

    def _append_all(self, events: Sequence[EventHeader]) -> list[IngestResult | DBAPIError]:
        """Append ``events`` in one transaction; should the database refuse it, in one each.

        Returns:
            Per event, its result or the database's refusal of it.
        """
        if not events:
            return []
        try:
            return list(self._store(list(events)))
        except DBAPIError as exc:
            if len(events) == 1:
                return [exc]
        outcomes: list[IngestResult | DBAPIError] = []
        for one in events:  # one by one: only the refused events fail
            try:
                outcomes.append(self._store([one])[0])
            except DBAPIError as exc:
                outcomes.append(exc)
        return outcomes

    def _store(self, events: list[EventHeader]) -> list[IngestResult]:
        """Append ``events`` to the log in one transaction; the projector applies them later.

        On PostgreSQL one event is one autocommit statement (one round trip instead of five:
        on this kind of machine each costs about as much as the WAL flush).
        """
        received = datetime.now(UTC)
        if len(events) == 1 and self.dialect == "postgresql":
            logged = [self._write(lambda c: append_one(c, events[0], received), True)]
        elif len(events) == 1 and self._sqlite_append is not None:
            logged = [self._write_one_sqlite(events[0], received)]
        else:
            logged = self._write(lambda conn: append(conn, events, received), log=True)
        return self._appended(events, logged)

    def _appended(
        self, events: Sequence[EventHeader], logged: list[tuple[int, bool]]
    ) -> list[IngestResult]:
        """The results of appending ``events`` (``logged``: their ids and duplicate flags),
        after telling the projector."""
        if self.on_append is not None:
            self.on_append()
        return [
            IngestResult(event_id, duplicate, event.warnings)
            for (event_id, duplicate), event in zip(logged, events, strict=True)
        ]

    def _write_one_sqlite(self, event: EventHeader, received: datetime) -> tuple[int, bool]:
        """SQLite: :meth:`_append_on_driver`, waiting for the lock, retried as :meth:`_write`."""

        def append_now() -> tuple[int, bool]:
            logged = self._append_on_driver(self.log_engine, event, received, wait=True)
            assert logged is not None  # it waits for the lock
            return logged

        return self._retrying(append_now)

    def _write(
        self, fn: Callable[[Connection], _T], autocommit: bool = False, log: bool = False
    ) -> _T:
        """Run ``fn`` in one write transaction (``autocommit``: on a connection in autocommit
        mode, each statement its own transaction; ``log``: one that writes the event log, on
        SQLite in the log's file), retried as :meth:`_retrying` says."""

        def once() -> _T:
            if autocommit:
                with self._autocommit.connect() as conn:
                    return fn(conn)
            with (self.log_engine if log else self.engine).begin() as conn:
                return fn(conn)

        return self._retrying(once)

    @staticmethod
    def _retrying(write: Callable[[], _T]) -> _T:
        """Run ``write``, again while SQLite reports the file locked (a writer held it past the
        busy timeout) and once on a connection the database dropped (PostgreSQL restarted)."""
        for attempt in range(5):
            try:
                return write()
            except DBAPIError as exc:
                if exc.connection_invalidated and attempt == 0:
                    continue  # the pool has discarded its stale connections: a fresh one now
                if not isinstance(exc, OperationalError) or "locked" not in str(exc):
                    raise
                if attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    # -- projection --------------------------------------------------------------------------
    def _watermark(self, conn: Connection) -> int:
        mark = conn.execute(_WATERMARK).scalar()
        return int(mark or 0)

    @staticmethod
    def _log_position(conn: Connection) -> tuple[int, int]:
        """The newest logged event's id and the watermark, in one round trip."""
        newest, mark = conn.execute(_LOG_POSITION).one()
        return int(newest or 0), int(mark or 0)

    def pending(self) -> int:
        """How many accepted events the tables do not reflect yet (0 when caught up)."""
        with self._reader() as conn:
            newest, mark = self._log_position(conn)
            if newest <= mark:
                return 0
            count = select(func.count()).where(t.events.c.id > mark)
            return int(conn.execute(count).scalar() or 0)

    def catch_up(self, limit: int | None = None, batch: int = _PROJECT_BATCH) -> int:
        """Project accepted events into the tables, in log order; returns how many.

        Every read calls this first, so reads see every accepted event. Projection runs in
        transactions of up to ``batch`` events, serialized across processes (PostgreSQL: an
        advisory lock; SQLite: the write lock). An event the database refuses is recorded in
        ``projection_errors`` and skipped; the others still land.

        Args:
            limit: stop after about this many events (None: until caught up).
            batch: events per transaction.
        """
        done = 0
        while (limit is None or done < limit) and self._behind():
            if self.dialect == "sqlite":
                n = self._project_off_lock(batch)
            else:
                n = self._write(lambda conn: self._project_batch(conn, batch))
            if n == 0:
                break
            done += n
        if done and self.log_engine is not self.engine:
            self._checkpoint_log()
        return done

    def _checkpoint_log(self) -> None:
        """SQLite: copy the log's WAL into its file (a passive checkpoint: it waits for no one).

        The event loop's appends leave checkpoints to others, as their fsync would stall it, and
        the store's own connections, the projector's among them, attach the log read-only; so
        whoever projects checkpoints the log too, as the projector's commits checkpointed the one
        file before the log had its own (see :func:`headwater.store.engine.create_engine_for`).
        """
        raw = self.log_engine.raw_connection()  # outside a transaction (none is begun here)
        try:
            driver = raw.driver_connection
            assert driver is not None
            driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            raw.close()

    def _behind(self) -> bool:
        """Whether the log holds events past the watermark (one cheap query).

        Every read asks this first, retried as a write is: a read that finds the pool's
        connections dropped (PostgreSQL restarted) discards them here and answers.
        """

        def check() -> bool:
            with self._reader() as conn:
                newest, mark = self._log_position(conn)
                return newest > mark

        return self._retrying(check)

    @pausing_gc  # as ingest_many: the batch's decoded events, rows and statements
    def _project_batch(self, conn: Connection, batch: int) -> int:
        """Project the next ``batch`` events in ``conn``'s write transaction."""
        if self.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PROJECT_LOCK_KEY})
        mark = self._watermark(conn)
        rows = self._next_events(conn, mark, batch)
        if not rows:
            return 0
        return self._apply_rows(
            conn, rows, lambda: project(conn, self._insert, self._stored_events(rows))
        )

    @pausing_gc
    def _project_off_lock(self, batch: int) -> int:
        """SQLite: project the next ``batch`` events holding the file's write lock only to write.

        Every append needs that lock too, and holding it for the whole projection (most of it
        computing) stalled single-event ingest about half the time under a steady stream. The
        batch is computed on a read snapshot (:func:`headwater.store.projection.prepare`) and
        written in a write transaction that first checks that nothing was projected meanwhile
        (the watermark, the planned ids); if something was (another process projected), it is
        computed again, and after three such misses under the lock throughout.
        """
        for _ in range(3):
            with self._reader() as conn:
                mark = self._watermark(conn)
                rows = self._next_events(conn, mark, batch)
                if not rows:
                    return 0
                try:
                    ready: PreparedBatch | None = prepare(
                        conn, self._insert, self._stored_events(rows)
                    )
                except Exception:  # projected event by event under the lock, as below
                    ready = None
            done = self._write(partial(self._write_prepared, mark=mark, rows=rows, ready=ready))
            if done is not None:
                return done
        return self._write(lambda conn: self._project_batch(conn, batch))

    def _write_prepared(
        self, conn: Connection, *, mark: int, rows: Sequence[Any], ready: PreparedBatch | None
    ) -> int | None:
        """Write a batch computed ahead, in ``conn``'s write transaction; None (nothing
        written) when the tables moved on since its snapshot of watermark ``mark``."""
        if self._watermark(conn) != mark or (ready is not None and not ready.still_valid(conn)):
            return None
        if ready is None:
            return self._apply_rows(conn, rows, None)
        return self._apply_rows(conn, rows, lambda: ready.write(conn))

    @staticmethod
    def _next_events(conn: Connection, mark: int, batch: int) -> Sequence[Any]:
        """The next ``batch`` logged events after the watermark ``mark``."""
        query = select(t.events).where(t.events.c.id > mark).order_by(t.events.c.id).limit(batch)
        return conn.execute(query).all()

    @staticmethod
    def _stored_events(rows: Sequence[Any]) -> list[tuple[int, ValidatedEvent]]:
        # a pruned body cannot be projected (retention catches up first)
        return [(int(r.id), stored_event(r)) for r in rows if r.raw]

    def _apply_rows(
        self, conn: Connection, rows: Sequence[Any], apply: Callable[[], None] | None
    ) -> int:
        """Run ``apply`` (the batch's projection) in a savepoint and move the watermark past
        ``rows``; should it fail (or with no ``apply``), project the rows one savepoint each,
        so that only the events the database refuses are skipped (``projection_errors``)."""
        if apply is None or not self._in_savepoint(conn, apply):
            for row in rows:
                self._project_one(conn, row)
        self._set_watermark(conn, int(rows[-1].id))
        return len(rows)

    @staticmethod
    def _in_savepoint(conn: Connection, apply: Callable[[], None]) -> bool:
        """Run ``apply`` in a savepoint; False (rolled back) if it raised."""
        savepoint = conn.begin_nested()
        try:
            apply()
        except Exception:
            savepoint.rollback()
            return False
        savepoint.commit()
        return True

    def _project_one(self, conn: Connection, row: Any) -> None:
        savepoint = conn.begin_nested()
        try:
            if row.raw:
                project(conn, self._insert, [(int(row.id), stored_event(row))])
            savepoint.commit()
        except Exception as exc:
            savepoint.rollback()
            reason = (
                str(exc.orig) if isinstance(exc, DBAPIError) else f"{type(exc).__name__}: {exc}"
            )
            log.warning("event %s could not be projected: %s", row.id, reason)
            conn.execute(
                self._insert(t.projection_errors)
                .values(event_id=row.id, error=reason, at=datetime.now(UTC))
                .on_conflict_do_nothing()
            )

    def _set_watermark(self, conn: Connection, event_id: int) -> None:
        stmt = self._insert(t.projection).values(name=_PROJECTION, event_id=event_id)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["name"], set_={"event_id": event_id})
        )

    def _reader(self) -> Connection:
        """A connection for a read transaction that need not see events not yet projected."""
        return self.engine.connect().execution_options(**{READ_ONLY: True})

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A connection for reading, after every accepted event has been projected."""
        self.catch_up()
        with self._reader() as conn:
            yield conn

    def prune_events(self, older_than: datetime) -> int:
        """Drop the bodies of events older than ``older_than``; hashes and lineage stay."""
        self.catch_up()  # a body is needed until its event is projected
        with self.log_engine.begin() as conn:
            lock_chain(conn)
            result = conn.execute(
                update(t.events)
                .where(and_(t.events.c.event_time < older_than, ~t.EMPTIED))
                .values(raw=b"")
            )
            return int(result.rowcount or 0)

    def tag(
        self, tag: str, dataset: DatasetId, field: str | None = None, description: str | None = None
    ) -> Json:
        """Tag a dataset or one of its fields (idempotent)."""
        now = datetime.now(UTC)
        self.catch_up()
        with self.engine.begin() as conn:
            ds_id = self._dataset_pk(conn, dataset)
            if field:
                fields = (
                    conn.execute(
                        select(t.datasets.c.fields).where(t.datasets.c.id == ds_id)
                    ).scalar()
                    or []
                )
                if field not in {f["name"] for f in fields}:
                    msg = f"dataset {dataset.namespace}:{dataset.name} has no field {field!r}"
                    raise NotFound(msg)
            conn.execute(
                self._insert(t.tags)
                .values(name=tag, description=description, created_at=now)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            conn.execute(
                self._insert(t.dataset_tags)
                .values(dataset_id=ds_id, field=field or "", tag=tag, tagged_at=now)
                .on_conflict_do_nothing()
            )
        return self.get_dataset(dataset)

    # -- helpers -----------------------------------------------------------------------------
    def _dataset_pk(self, conn: Any, dataset: DatasetId) -> int:
        pk = conn.execute(
            select(t.datasets.c.id).where(
                and_(t.datasets.c.namespace == dataset.namespace, t.datasets.c.name == dataset.name)
            )
        ).scalar()
        if pk is None:
            msg = f"dataset {dataset.namespace}:{dataset.name} not found"
            raise NotFound(msg)
        return int(pk)

    def _job_row(self, conn: Any, job: JobId) -> Any:
        row = conn.execute(
            select(t.jobs).where(
                and_(t.jobs.c.namespace == job.namespace, t.jobs.c.name == job.name)
            )
        ).first()
        if row is None:
            msg = f"job {job.namespace}:{job.name} not found"
            raise NotFound(msg)
        return row

    @staticmethod
    def _page(
        conn: Any, table: Any, where: Any, order: Sequence[Any], limit: int, offset: int
    ) -> tuple[list[Any], int]:
        """One page of ``table`` rows matching ``where`` in ``order``, and the true total count."""
        total = conn.execute(select(func.count()).select_from(table).where(where)).scalar_one()
        rows = conn.execute(
            select(table).where(where).order_by(*order).limit(limit).offset(offset)
        ).all()
        return rows, int(total)

    # -- entity reads ------------------------------------------------------------------------
    def list_namespaces(self, limit: int = 100, offset: int = 0) -> tuple[list[Json], int]:
        with self._read() as conn:
            rows, total = self._page(
                conn, t.namespaces, true(), [t.namespaces.c.name], limit, offset
            )
            return [views.namespace(r) for r in rows], total

    def get_namespace(self, name: str) -> Json:
        with self._read() as conn:
            row = conn.execute(select(t.namespaces).where(t.namespaces.c.name == name)).first()
        if row is None:
            msg = f"namespace {name!r} not found"
            raise NotFound(msg)
        return views.namespace(row)

    def list_datasets(
        self, namespace: str, limit: int = 100, offset: int = 0
    ) -> tuple[list[Json], int]:
        self.get_namespace(namespace)
        with self._read() as conn:
            where = t.datasets.c.namespace == namespace
            rows, total = self._page(conn, t.datasets, where, [t.datasets.c.name], limit, offset)
            return entities.datasets_json(conn, rows), total

    def get_dataset(self, dataset: DatasetId) -> Json:
        found = self.datasets_by_id([dataset])
        if dataset not in found:
            msg = f"dataset {dataset.namespace}:{dataset.name} not found"
            raise NotFound(msg)
        return found[dataset]

    def list_dataset_versions(
        self, dataset: DatasetId, limit: int = 100, offset: int = 0
    ) -> tuple[list[Json], int]:
        with self._read() as conn:
            pk = self._dataset_pk(conn, dataset)
            dv = t.dataset_versions
            order = [dv.c.created_at.desc(), dv.c.id.desc()]
            rows, total = self._page(conn, dv, dv.c.dataset_id == pk, order, limit, offset)
            tags = entities.tags_for(conn, [pk]).get(pk)
            return [views.dataset_version(r, dataset, tags) for r in rows], total

    def get_dataset_version(self, dataset: DatasetId, version: str) -> Json:
        with self._read() as conn:
            pk = self._dataset_pk(conn, dataset)
            row = conn.execute(
                select(t.dataset_versions).where(
                    and_(
                        t.dataset_versions.c.dataset_id == pk,
                        t.dataset_versions.c.version == version,
                    )
                )
            ).first()
            if row is None:
                msg = f"version {version!r} of dataset {dataset.namespace}:{dataset.name} not found"
                raise NotFound(msg)
            return views.dataset_version(row, dataset, entities.tags_for(conn, [pk]).get(pk))

    def list_jobs(
        self, namespace: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[Json], int]:
        if namespace is not None:
            self.get_namespace(namespace)
        with self._read() as conn:
            where = t.jobs.c.namespace == namespace if namespace is not None else true()
            order = [t.jobs.c.namespace, t.jobs.c.name]
            rows, total = self._page(conn, t.jobs, where, order, limit, offset)
            return entities.jobs_json(conn, self.dialect, rows), total

    def get_job(self, job: JobId) -> Json:
        with self._read() as conn:
            return entities.jobs_json(conn, self.dialect, [self._job_row(conn, job)])[0]

    def list_job_versions(
        self, job: JobId, limit: int = 100, offset: int = 0
    ) -> tuple[list[Json], int]:
        with self._read() as conn:
            row = self._job_row(conn, job)
            jv = t.job_versions
            order = [jv.c.created_at.desc(), jv.c.id.desc()]
            versions, total = self._page(conn, jv, jv.c.job_id == row.id, order, limit, offset)
            io = entities.version_io(conn, self.dialect, [v.id for v in versions])
            return [
                views.job_version(v, job, *io.get(v.id, ([], [])), None) for v in versions
            ], total

    def get_job_version(self, job: JobId, version: str) -> Json:
        with self._read() as conn:
            row = self._job_row(conn, job)
            v = conn.execute(
                select(t.job_versions).where(
                    and_(t.job_versions.c.job_id == row.id, t.job_versions.c.version == version)
                )
            ).first()
            if v is None:
                msg = f"version {version!r} of job {job.namespace}:{job.name} not found"
                raise NotFound(msg)
            io = entities.version_io(conn, self.dialect, [v.id])
            return views.job_version(v, job, *io.get(v.id, ([], [])), None)

    def list_runs(self, job: JobId, limit: int = 100, offset: int = 0) -> tuple[list[Json], int]:
        with self._read() as conn:
            row = self._job_row(conn, job)
            order = [t.runs.c.created_at.desc()]
            rows, total = self._page(conn, t.runs, t.runs.c.job_id == row.id, order, limit, offset)
            return entities.runs_json(conn, self.dialect, rows), total

    def get_run(self, run_id: str) -> Json:
        with self._read() as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.run_id == run_id)).first()
            if row is None:
                msg = f"run {run_id!r} not found"
                raise NotFound(msg)
            return entities.runs_json(conn, self.dialect, [row])[0]

    def child_runs(self, run_id: str, limit: int = 100, offset: int = 0) -> tuple[list[Json], int]:
        r = t.runs
        with self._read() as conn:
            order = [r.c.created_at, r.c.run_id]
            rows, total = self._page(conn, r, r.c.parent_run_id == run_id, order, limit, offset)
            if (
                not total
                and conn.execute(select(r.c.run_id).where(r.c.run_id == run_id)).first() is None
            ):
                msg = f"run {run_id!r} not found"
                raise NotFound(msg)
            return entities.runs_json(conn, self.dialect, rows, summary=True), total

    def get_run_facets(self, run_id: str, kind: Literal["run", "job"] = "run") -> Json:
        self.get_run(run_id)
        with self._read() as conn:
            merged = entities.merged_facets(
                conn, [run_id], "run_facets" if kind == "run" else "job_facets"
            )
        return {"runId": run_id, "facets": merged.get(run_id, {})}

    def list_events(
        self,
        before: datetime | None = None,
        after: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
        descending: bool = True,
    ) -> tuple[list[Json], int]:
        conds = []
        if before is not None:
            conds.append(t.events.c.event_time <= before)
        if after is not None:
            conds.append(t.events.c.event_time >= after)
        where = and_(~t.EMPTIED, *conds)  # pruned events have no body
        order = (
            (t.events.c.event_time.desc(), t.events.c.id.desc())
            if descending
            else (t.events.c.event_time, t.events.c.id)
        )
        count = select(func.count()).select_from(t.events)
        with self._read() as conn:
            # the events in range less the emptied ones: two index-only counts, no body read
            logged = conn.execute(count.where(*conds)).scalar_one()
            emptied = conn.execute(count.where(t.EMPTIED, *conds)).scalar_one()
            total = logged - emptied
            rows = conn.execute(
                select(t.events.c.raw).where(where).order_by(*order).limit(limit).offset(offset)
            )
            return [json.loads(r.raw) for r in rows], total

    def export_events(self) -> Iterator[bytes]:
        with self._read() as conn:
            result = conn.execution_options(yield_per=1000).execute(
                select(t.events.c.raw).where(~t.EMPTIED).order_by(t.events.c.id)
            )
            for row in result:
                yield bytes(row.raw)

    def search(
        self,
        q: str,
        kind: SearchKind | None = None,
        sort: SearchSort = "NAME",
        limit: int = 10,
        namespace: str | None = None,
        match: Sequence[SearchMatch] | None = None,
    ) -> Json:
        extended = match is not None
        places = [m for m in SEARCH_MATCHES if m in (match or ("name",))]
        kinds: set[str] = (
            {kind} if kind else ({"DATASET", "JOB", "FIELD"} if extended else {"DATASET", "JOB"})
        )
        queries = search_queries(self.dialect, q, kinds, places, namespace, sort, limit)
        if queries is None:
            return {"totalCount": 0, "results": []}
        count, page = queries
        with self._read() as conn:
            total = conn.execute(count).scalar_one()
            rows = conn.execute(page).all()
        return {"totalCount": total, "results": [search_result(r, q, extended) for r in rows]}

    def list_tags(self) -> list[Json]:
        with self._read() as conn:
            rows = conn.execute(select(t.tags).order_by(t.tags.c.name))
            return [{"name": r.name, "description": r.description} for r in rows]

    def quality_results(self, datasets: Sequence[DatasetId]) -> dict[DatasetId, list[Json]]:
        qa, ev = t.quality_assertions, t.events
        out: dict[DatasetId, list[Json]] = {}
        with self._read() as conn:
            for chunk in entities.chunks(list(dict.fromkeys(datasets))):
                rows = conn.execute(
                    select(
                        qa,
                        t.datasets.c.namespace,
                        t.datasets.c.name,
                        ev.c.run_id.label("event_run"),
                    )
                    .join(t.datasets, t.datasets.c.id == qa.c.dataset_id)
                    .join(ev, ev.c.id == qa.c.event_id)
                    .where(
                        keys_in(
                            t.datasets.c.namespace,
                            t.datasets.c.name,
                            ((d.namespace, d.name) for d in chunk),
                        )
                    )
                    .order_by(qa.c.event_time.desc(), qa.c.id.desc())
                )
                seen: set[tuple[DatasetId, str, str | None]] = set()
                for r in rows:
                    ds = DatasetId(r.namespace, r.name)
                    key = (ds, r.assertion, r.column_name)
                    if key in seen:
                        continue  # an older result of the same assertion
                    seen.add(key)
                    out.setdefault(ds, []).append(
                        {
                            "assertion": r.assertion,
                            "column": r.column_name,
                            "success": bool(r.success),
                            "severity": r.severity,
                            "eventTime": views.iso(r.event_time),
                            "runId": r.event_run,
                        }
                    )
        return out

    def quality_history(
        self, dataset: DatasetId, limit: int = 100, offset: int = 0
    ) -> tuple[list[Json], int]:
        qa, ev = t.quality_assertions, t.events
        run = func.coalesce(qa.c.run_id, ev.c.run_id)
        order = (qa.c.event_time.desc(), qa.c.id.desc())
        with self._read() as conn:
            pk = self._dataset_pk(conn, dataset)
            # a check run may report the same assertion on several events (START, COMPLETE):
            # keep its latest report once
            ranked = (
                select(
                    qa.c.assertion,
                    qa.c.column_name,
                    qa.c.success,
                    qa.c.severity,
                    qa.c.event_time,
                    qa.c.id,
                    run.label("run_id"),
                    ev.c.job_namespace,
                    ev.c.job_name,
                    func.row_number()
                    .over(partition_by=(run, qa.c.assertion, qa.c.column_name), order_by=order)
                    .label("rn"),
                )
                .join(ev, ev.c.id == qa.c.event_id)
                .where(qa.c.dataset_id == pk)
                .subquery("ranked")
            )
            latest = select(ranked).where(ranked.c.rn == 1).subquery("latest")
            total = conn.execute(select(func.count()).select_from(latest)).scalar_one()
            rows = conn.execute(
                select(latest)
                .order_by(latest.c.event_time.desc(), latest.c.id.desc())
                .limit(limit)
                .offset(offset)
            ).all()
        return [
            {
                "assertion": r.assertion,
                "column": r.column_name,
                "success": bool(r.success),
                "severity": r.severity,
                "eventTime": views.iso(r.event_time),
                "runId": r.run_id,
                "job": {"namespace": r.job_namespace, "name": r.job_name} if r.job_name else None,
            }
            for r in rows
        ], int(total)

    # -- graph primitives --------------------------------------------------------------------
    def node_exists(self, node: DatasetId | JobId) -> bool:
        table = t.datasets if isinstance(node, DatasetId) else t.jobs
        with self._read() as conn:
            return (
                conn.execute(
                    select(table.c.id).where(
                        and_(table.c.namespace == node.namespace, table.c.name == node.name)
                    )
                ).first()
                is not None
            )

    @staticmethod
    def _job_versions(as_of: datetime | None) -> tuple[Any, Any]:
        """``(from clause, version column)`` giving each job's version: current, or as of a time.

        As of a time, a job's version is the one of its latest run started at or before that time.
        """
        return traversal.job_versions(as_of)

    def facets_of(
        self, nodes: Sequence[DatasetId | JobId], keys: Sequence[str] | None = None
    ) -> dict[DatasetId | JobId, Json]:
        found: dict[DatasetId | JobId, Json] = {}
        datasets = [n for n in nodes if isinstance(n, DatasetId)]
        jobs = [n for n in nodes if isinstance(n, JobId)]
        with self._read() as conn:
            for table, ids, kind in ((t.datasets, datasets, DatasetId), (t.jobs, jobs, JobId)):
                # with keys, the database extracts just those facets (no full JSON decode)
                columns = (
                    [table.c.facets[k].label(f"f{i}") for i, k in enumerate(keys)]
                    if keys is not None
                    else [table.c.facets]
                )
                for chunk in entities.chunks(list(dict.fromkeys(ids))):
                    where = keys_in(
                        table.c.namespace, table.c.name, ((k.namespace, k.name) for k in chunk)
                    )
                    q = select(table.c.namespace, table.c.name, *columns).where(where)
                    for r in conn.execute(q):
                        if keys is None:
                            facets = r.facets or {}
                        else:
                            facets = {
                                k: r[2 + i] for i, k in enumerate(keys) if r[2 + i] is not None
                            }
                        found[kind(r.namespace, r.name)] = facets
        return found

    def lineage_at(
        self, as_of: datetime | None = None
    ) -> tuple[list[TableEdges], list[ColumnEdge], dict[JobId, str | None]]:
        source, version = self._job_versions(as_of)
        out_ds, in_ds = t.datasets.alias("out_ds"), t.datasets.alias("in_ds")
        with self._read() as conn:
            rows = conn.execute(
                select(
                    t.jobs.c.id,
                    t.jobs.c.namespace,
                    t.jobs.c.name,
                    version.label("current_version_id"),
                    t.job_versions.c.sql,
                )
                .select_from(source)
                .join(t.job_versions, t.job_versions.c.id == version)
            ).all()
            table = self._table_edges(conn, rows)
            sql = {JobId(r.namespace, r.name): r.sql for r in rows}
            q = _column_edge_select(source, version, out_ds, in_ds)
            columns = [
                ColumnEdge(
                    JobId(r.job_ns, r.job_name),
                    DatasetId(r.out_ns, r.out_name),
                    r.out_field,
                    DatasetId(r.in_ns, r.in_name),
                    r.in_field,
                    tuple(r.transformations or ()),
                )
                for r in conn.execute(q)
            ]
        return table, columns, sql

    def schemas_at(self, as_of: datetime | None = None) -> dict[DatasetId, list[str]]:
        dv = t.dataset_versions
        order = (dv.c.created_at.desc(), dv.c.id.desc())
        ranked = select(
            dv.c.dataset_id,
            dv.c.fields,
            func.row_number().over(partition_by=dv.c.dataset_id, order_by=order).label("rn"),
        )
        if as_of is not None:
            ranked = ranked.where(dv.c.created_at <= as_of)
        sub = ranked.subquery("ranked")
        q = (
            select(t.datasets.c.namespace, t.datasets.c.name, sub.c.fields)
            .join(sub, sub.c.dataset_id == t.datasets.c.id)
            .where(sub.c.rn == 1)
        )
        with self._read() as conn:
            return {
                DatasetId(r.namespace, r.name): [f["name"] for f in r.fields or []]
                for r in conn.execute(q)
                if r.fields
            }

    def _table_edges(self, conn: Any, job_rows: Sequence[Any]) -> list[TableEdges]:
        io = entities.version_io(conn, self.dialect, [r.current_version_id for r in job_rows])
        return [
            TableEdges(
                JobId(r.namespace, r.name),
                *(tuple(x) for x in io.get(r.current_version_id, ([], []))),
            )
            for r in job_rows
        ]

    def jobs_touching(
        self,
        datasets: Sequence[DatasetId],
        direction: Literal["in", "out"],
        as_of: datetime | None = None,
    ) -> list[TableEdges]:
        if not datasets:
            return []
        source, version = self._job_versions(as_of)
        with self._read() as conn:
            job_rows: dict[int, Any] = {}
            for chunk in entities.chunks(list(datasets)):
                q = (
                    select(
                        t.jobs.c.id,
                        t.jobs.c.namespace,
                        t.jobs.c.name,
                        version.label("current_version_id"),
                    )
                    .select_from(source)
                    .join(t.job_version_io, t.job_version_io.c.job_version_id == version)
                    .join(t.datasets, t.datasets.c.id == t.job_version_io.c.dataset_id)
                    .where(
                        and_(
                            t.job_version_io.c.direction == direction,
                            keys_in(
                                t.datasets.c.namespace,
                                t.datasets.c.name,
                                ((d.namespace, d.name) for d in chunk),
                            ),
                        )
                    )
                )
                for r in conn.execute(q):
                    job_rows[r.id] = r
            return self._table_edges(conn, list(job_rows.values()))

    def job_edges(self, jobs: Sequence[JobId], as_of: datetime | None = None) -> list[TableEdges]:
        if not jobs:
            return []
        source, version = self._job_versions(as_of)
        with self._read() as conn:
            rows: list[Any] = []
            for chunk in entities.chunks(list(jobs)):
                where = keys_in(
                    t.jobs.c.namespace, t.jobs.c.name, ((j.namespace, j.name) for j in chunk)
                )
                q = select(
                    t.jobs.c.id,
                    t.jobs.c.namespace,
                    t.jobs.c.name,
                    version.label("current_version_id"),
                )
                rows.extend(conn.execute(q.select_from(source).where(where)).all())
            return self._table_edges(conn, rows)

    def _plan_walk(self, conn: Connection) -> None:
        """Before a recursive walk on PostgreSQL: no JIT compilation for this transaction.

        The planner cannot tell how many rows a recursive CTE will hold; on tables without
        statistics its guesses ran into millions, past ``jit_above_cost``, and compiling the
        plan took 25-300 ms for a walk that then ran in under one.
        """
        if self.dialect == "postgresql":
            conn.execute(text("SET LOCAL jit = off"))

    def jobs_reached(
        self,
        start: DatasetId | JobId,
        depth: int,
        direction: Literal["upstream", "downstream"],
        as_of: datetime | None = None,
    ) -> list[TableEdges]:
        table = t.datasets if isinstance(start, DatasetId) else t.jobs
        with self._read() as conn:
            pk = conn.execute(
                select(table.c.id).where(
                    and_(table.c.namespace == start.namespace, table.c.name == start.name)
                )
            ).scalar()
            if pk is None:
                return []
            query = traversal.jobs_reached(
                self.dialect, table is t.jobs, direction == "upstream", as_of is not None
            )
            values = {"start": int(pk), "depth": depth, "as_of": as_of}
            self._plan_walk(conn)
            rows = conn.execute(query, values).all()
        return traversal.table_edges(rows)

    def column_edges(
        self,
        fields: Sequence[tuple[DatasetId, str]],
        direction: Literal["upstream", "downstream"],
        as_of: datetime | None = None,
    ) -> list[ColumnEdge]:
        if not fields:
            return []
        source, version = self._job_versions(as_of)
        out_ds, in_ds = t.datasets.alias("out_ds"), t.datasets.alias("in_ds")
        anchor_ds = out_ds if direction == "upstream" else in_ds
        result: list[ColumnEdge] = []
        with self._read() as conn:
            # Select by dataset (one IN list: a statement shape the compiled cache reuses) and keep
            # the wanted fields in Python; '*' wants every field of its dataset.
            wanted: dict[DatasetId, set[str]] = defaultdict(set)
            for d, f in fields:
                wanted[d].add(f)
            for chunk in entities.chunks(list(wanted)):
                conds = [
                    keys_in(
                        anchor_ds.c.namespace,
                        anchor_ds.c.name,
                        ((d.namespace, d.name) for d in chunk),
                    )
                ]
                q = _column_edge_select(source, version, out_ds, in_ds).where(or_(*conds))
                for r in conn.execute(q):
                    anchor = (
                        (DatasetId(r.out_ns, r.out_name), r.out_field)
                        if direction == "upstream"
                        else (DatasetId(r.in_ns, r.in_name), r.in_field)
                    )
                    keep = wanted.get(anchor[0], set())
                    if "*" not in keep and anchor[1] not in keep:
                        continue
                    result.append(
                        ColumnEdge(
                            JobId(r.job_ns, r.job_name),
                            DatasetId(r.out_ns, r.out_name),
                            r.out_field,
                            DatasetId(r.in_ns, r.in_name),
                            r.in_field,
                            tuple(r.transformations or ()),
                        )
                    )
        return result

    def column_downstream(
        self,
        start: tuple[DatasetId, str],
        depth: int,
        as_of: datetime | None = None,
        facets: Sequence[str] = (),
    ) -> ColumnReach:
        dataset, name = start
        keys = list(facets)
        with self._read() as conn:
            pk = conn.execute(
                select(t.datasets.c.id).where(
                    and_(
                        t.datasets.c.namespace == dataset.namespace,
                        t.datasets.c.name == dataset.name,
                    )
                )
            ).scalar()
            if pk is None:
                return ColumnReach([], {})
            found: dict[DatasetId | JobId, Json] = {}
            states = None
            if as_of is None:
                states = self._walk_index(conn, int(pk), start, depth, keys, found)
            if states is None:
                reached, datasets, jobs = self._walk_database(
                    conn, int(pk), name, depth, as_of, keys, found
                )
                states = traversal.column_states(dataset, name, int(pk), reached, datasets, jobs)
            if keys:
                q = select(*(traversal.facet(self.dialect, t.datasets.c.facets, k) for k in keys))
                own = conn.execute(q.where(t.datasets.c.id == pk)).one()
                if any(v is not None for v in own):
                    found[dataset] = traversal.present(keys, own)
        return ColumnReach(states, found)

    def _walk_database(
        self,
        conn: Connection,
        pk: int,
        field: str,
        depth: int,
        as_of: datetime | None,
        keys: Sequence[str],
        found: dict[DatasetId | JobId, Json],
    ) -> tuple[list[tuple[Any, ...]], dict[int, DatasetId], dict[int, JobId]]:
        """:meth:`column_downstream`'s walk as one recursive query (any time, any graph size)."""
        query = traversal.column_downstream(self.dialect, as_of is not None, tuple(keys))
        values = {"start_ds": pk, "start_field": field, "depth": depth, "as_of": as_of}
        self._plan_walk(conn)
        rows = conn.execute(query, values).all()
        jobs, unnamed = traversal.row_jobs(rows, keys, found)
        facets = [traversal.facet(self.dialect, t.jobs.c.facets, k) for k in keys]
        for r in entities.node_rows(
            conn, self.dialect, t.jobs, unnamed, [t.jobs.c.namespace, t.jobs.c.name, *facets]
        ):
            jobs[r[0]] = job = JobId(r[1], r[2])
            if any(v is not None for v in r[3:]):
                found[job] = traversal.present(keys, r[3:])
        reached, datasets = traversal.reached_rows(rows, keys, found)
        return reached, datasets, jobs

    def _walk_index(
        self,
        conn: Connection,
        pk: int,
        start: tuple[DatasetId, str],
        depth: int,
        keys: Sequence[str],
        found: dict[DatasetId | JobId, Json],
    ) -> list[ReachedColumn] | None:
        """:meth:`column_downstream`'s walk on the current graph through the in-memory index;
        None when there is none or the graph is too large for it.

        Names and facets are read into the index's caches under its lock, so that what is cached
        for a watermark was read after the refresh to it.
        """
        index = self._column_index
        if index is None:
            return None
        dataset, field = start
        with index.lock:
            if not self._refresh_index(conn, index):
                return None
            walk = index.walk((pk, field), depth)
            if walk is None:  # no edge out of the field
                return [ReachedColumn(dataset, field, 0, True, None, (), ())]
            datasets, job_pks = walk.keys()
            if not index.ranked():  # states are sorted by ranks of every dataset's name
                self._named_nodes(conn, index, t.datasets, DatasetId, index.dataset_keys())
            names = self._cached_nodes(conn, index, t.datasets, DatasetId, datasets, keys, found)
            jobs = self._cached_nodes(conn, index, t.jobs, JobId, job_pks, keys, found)
            return walk.states(dataset, names, jobs)

    def _named_nodes(
        self,
        conn: Connection,
        index: ColumnIndex,
        table: Any,
        kind: type[DatasetId] | type[JobId],
        pks: set[int],
    ) -> dict[int, Any]:
        """The index's cache of node names for ``table``, filled first with what ``pks`` lack."""
        names = index.names.setdefault(table.name, {})
        unknown = pks.difference(names)
        for row in entities.node_rows(
            conn, self.dialect, table, unknown, [table.c.namespace, table.c.name]
        ):
            names[row[0]] = kind(row[1], row[2])
        return names

    def _cached_nodes(
        self,
        conn: Connection,
        index: ColumnIndex,
        table: Any,
        kind: type[DatasetId] | type[JobId],
        pks: set[int],
        keys: Sequence[str],
        found: dict[DatasetId | JobId, Json],
    ) -> dict[int, Any]:
        """The nodes of ``pks`` by primary key, from the index's caches (filled first with what
        they lack); the facets of ``keys`` that the nodes have go into ``found``."""
        names = self._named_nodes(conn, index, table, kind, pks)
        if not keys:
            return names
        checked, facets = index.facets.setdefault((table.name, tuple(keys)), (set(), {}))
        unknown = pks.difference(checked)
        if unknown:  # few nodes have the facets asked for: only theirs come back
            values = [traversal.facet(self.dialect, table.c.facets, k) for k in keys]
            has_any = or_(*(v.is_not(None) for v in values))
            for row in entities.node_rows(conn, self.dialect, table, unknown, values, has_any):
                facets[row[0]] = traversal.present(keys, row[1:])
            checked.update(unknown)
        for node_pk in pks.intersection(facets):
            found[names[node_pk]] = facets[node_pk]
        return names

    def _refresh_index(self, conn: Connection, index: ColumnIndex) -> bool:
        """Bring ``index`` up to the projection watermark; whether it can answer walks.

        Only the jobs named by the events projected since the last refresh can have a new
        current version or new edges: their edges are reloaded. A long way behind (or a
        watermark that went back), the whole index is.
        """
        if not index.usable:
            return False
        mark = self._watermark(conn)
        if index.mark == mark:
            return True
        if index.mark is None or not 0 < mark - index.mark <= _INDEX_RELOAD:
            started = time.perf_counter()
            index.load(conn.execute(traversal.current_column_edges(False)), mark)
            log.info(
                "column index: %d edges loaded in %.0f ms",
                len(index),
                (time.perf_counter() - started) * 1000,
            )
            return index.usable
        touched = [
            r[0]
            for r in conn.execute(
                traversal.jobs_logged_between(), {"after": index.mark, "upto": mark}
            )
        ]
        edges = [
            row
            for chunk in entities.chunks(touched)
            for row in conn.execute(traversal.current_column_edges(True), {"jobs": list(chunk)})
        ]
        index.replace_jobs(touched, edges, mark, self._touched_keys(conn, index, mark, touched))
        return index.usable

    @staticmethod
    def _touched_keys(
        conn: Connection, index: ColumnIndex, mark: int, jobs: list[int]
    ) -> tuple[set[int], set[int]] | None:
        """The primary keys of the datasets and jobs whose facets the events since the index's
        mark can change; None past a few hundred events."""
        assert index.mark is not None
        if mark - index.mark > _INDEX_FACET_EVENTS:
            return None
        touched = SqlStore._events_touched(conn, index.mark, mark)
        if touched is None:
            return None
        named = list(touched.datasets)
        datasets = SqlStore._rows_by_key(conn, t.datasets, named) if named else []
        return {int(r.id) for r in datasets}, set(jobs)

    @staticmethod
    def _rows_by_key(conn: Any, table: Any, keys: Sequence[DatasetId | JobId]) -> list[Any]:
        """Rows of ``datasets`` or ``jobs`` for many (namespace, name) keys, in chunks."""
        rows: list[Any] = []
        for chunk in entities.chunks(list(dict.fromkeys(keys))):
            where = keys_in(table.c.namespace, table.c.name, ((k.namespace, k.name) for k in chunk))
            rows.extend(conn.execute(select(table).where(where)).all())
        return rows

    def _dataset_rows(self, conn: Any, datasets: Sequence[DatasetId]) -> list[Any]:
        return self._rows_by_key(conn, t.datasets, datasets)

    def dataset_fields(self, datasets: Sequence[DatasetId]) -> dict[DatasetId, list[Json]]:
        with self._read() as conn:
            return {
                DatasetId(r.namespace, r.name): list(r.fields or [])
                for r in self._dataset_rows(conn, datasets)
            }

    def datasets_by_id(self, datasets: Sequence[DatasetId]) -> dict[DatasetId, Json]:
        with self._read() as conn:
            return self._cached_json(conn, datasets, self._read_datasets)

    def jobs_by_id(self, jobs: Sequence[JobId]) -> dict[JobId, Json]:
        with self._read() as conn:
            return self._cached_json(conn, jobs, self._read_jobs)

    def _read_datasets(self, conn: Connection, datasets: Sequence[DatasetId]) -> dict[Any, Json]:
        rows = self._dataset_rows(conn, datasets)
        return {
            DatasetId(r.namespace, r.name): d
            for r, d in zip(rows, entities.datasets_json(conn, rows), strict=True)
        }

    def _read_jobs(self, conn: Connection, jobs: Sequence[JobId]) -> dict[Any, Json]:
        rows = self._rows_by_key(conn, t.jobs, jobs)
        return {
            JobId(r.namespace, r.name): j
            for r, j in zip(
                rows, entities.jobs_json(conn, self.dialect, rows, summary=True), strict=True
            )
        }

    def _cached_json(
        self,
        conn: Connection,
        keys: Sequence[_Node],
        read: Callable[[Connection, Sequence[_Node]], dict[Any, Json]],
    ) -> dict[_Node, Json]:
        """The Marquez JSON of ``keys`` (those that exist) through the node cache: what it lacks
        is ``read`` and kept. Each value is a dict of its own; what it holds is shared."""
        cache = self._node_cache
        if cache is None:
            return read(conn, keys)
        with cache.lock:
            self._refresh_nodes(conn, cache)
            found, missing = cache.lookup(keys)
            generation = cache.generation
        if missing:
            fresh = read(conn, missing)
            with cache.lock:
                cache.add(generation, fresh)
            found.update(fresh)
        return {key: dict(data) for key, data in found.items()}

    def _refresh_nodes(self, conn: Connection, cache: NodeCache) -> None:
        """Bring ``cache`` to the log position ``conn`` sees (callers hold its lock)."""
        mark, tag_rows, newest_tag = conn.execute(_NODE_POSITION).one()
        position = LogPosition(int(mark or 0), (int(tag_rows), newest_tag))
        if position != cache.position:
            cache.refresh(position, self._touched(conn, cache.position, position))

    @staticmethod
    def _touched(conn: Connection, old: LogPosition | None, new: LogPosition) -> Touched | None:
        """The nodes the events projected between ``old`` and ``new`` can change; None when
        there are too many to read (or the log went back, or some bodies were pruned)."""
        if old is None or not 0 <= new.watermark - old.watermark <= _NODE_RELOAD:
            return None
        return SqlStore._events_touched(conn, old.watermark, new.watermark)

    @staticmethod
    def _events_touched(conn: Connection, after: int, upto: int) -> Touched | None:
        """What the events after id ``after`` up to ``upto`` name (:func:`touched_by`); None
        when some bodies were pruned (what they named is unknown)."""
        events = t.events.c
        rows = conn.execute(select(t.events).where(events.id > after, events.id <= upto)).all()
        if not all(r.raw for r in rows):
            return None
        return touched_by(stored_event(r) for r in rows)

    def run_inputs_upstream(self, run_id: str) -> list[Json]:
        with self._read() as conn:
            run = conn.execute(select(t.runs).where(t.runs.c.run_id == run_id)).first()
            if run is None:
                msg = f"run {run_id!r} not found"
                raise NotFound(msg)
            rows = conn.execute(
                select(
                    t.run_io.c.dataset_id,
                    t.run_io.c.dataset_version,
                    t.datasets.c.namespace,
                    t.datasets.c.name,
                )
                .join(t.datasets, t.datasets.c.id == t.run_io.c.dataset_id)
                .where(and_(t.run_io.c.run_id == run_id, t.run_io.c.direction == "in"))
            ).all()
            out = []
            for r in rows:
                version = r.dataset_version or entities.version_at(
                    conn, r.dataset_id, run.started_at or run.created_at
                )
                producer = None
                if version is not None:
                    producer = conn.execute(
                        select(t.dataset_versions.c.run_id).where(
                            and_(
                                t.dataset_versions.c.dataset_id == r.dataset_id,
                                t.dataset_versions.c.version == version,
                            )
                        )
                    ).scalar()
                    if producer is None:  # a version facet: find the run that wrote it
                        producer = conn.execute(
                            select(t.run_io.c.run_id).where(
                                and_(
                                    t.run_io.c.dataset_id == r.dataset_id,
                                    t.run_io.c.direction == "out",
                                    t.run_io.c.dataset_version == version,
                                )
                            )
                        ).scalar()
                out.append(
                    {
                        "dataset": DatasetId(r.namespace, r.name),
                        "version": version,
                        "producer_run": producer,
                    }
                )
            return out
