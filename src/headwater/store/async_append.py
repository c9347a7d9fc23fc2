"""PostgreSQL: append single events from the server's event loop, on an asyncio connection.

A single event on PostgreSQL is one autocommit statement (:attr:`LogStatements.append_one`)
whose time is the round trip and the commit's WAL flush. Run from a request it went through a
worker thread and back: two thread wake-ups, about 0.4 ms on this kind of machine, a third of
the append. :class:`AsyncAppender` sends the same statement (compiled once,
:mod:`headwater.store.prepared`) on a psycopg ``AsyncConnection`` instead, so the event loop
waits on the socket like on any other I/O and serves other requests meanwhile.

Events that arrive while an append is in flight share the next commit (group commit on the
loop): the request whose append is in flight leads, and the events that queued up meanwhile go
next, in one transaction (one statement each, pipelined: one round trip and one WAL flush for
the group). One producer never waits for anybody; many producers wait at most for the commit in
flight. A request leads only until its own event is in: what is still queued then goes on in a
task of its own, so that a steady stream never holds the first request's answer back. Before
this, concurrent events went through worker threads (:mod:`headwater.store.group_commit`): from
eight producers, PostgreSQL took fewer events a second than from one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.engine import URL

from headwater.model.events import EventHeader
from headwater.store.bulk import driver_error
from headwater.store.ingest import LOG, event_columns, require_head
from headwater.store.prepared import Prepared

_Pending = tuple[list[Any], "asyncio.Future[tuple[int, bool]]"]
MAX_GROUP = 500  # events in one group transaction at most


class AsyncAppender:
    """Appends single events on an asyncio connection to the store's database.

    Args:
        url: the store engine's URL.
    """

    def __init__(self, url: URL) -> None:
        self._conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        # the same statement as the threaded path, with positional %s parameters
        self._statement = Prepared(LOG.append_one, psycopg_dialect.dialect(paramstyle="format"))
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: list[_Pending] = []
        self._leading = False  # a coroutine is appending and will drain the queue
        self._next: asyncio.Task[None] | None = None  # the task the queue was handed on to

    async def append(self, event: EventHeader, received_at: datetime) -> tuple[int, bool]:
        """Append ``event``, in a transaction of its own or shared with the events that queued
        up while another append was in flight; ``(event id, duplicate)``.

        As the threaded path: the same event appended concurrently by another writer fails on
        the unique event key and is run once more, then finds that writer's event; a
        connection the server dropped is replaced once.

        Raises:
            sqlalchemy.exc.DBAPIError: the database's error, as SQLAlchemy would raise it.
        """
        parameters = self._statement.parameters(event_columns(event, received_at))
        future: asyncio.Future[tuple[int, bool]] = asyncio.get_running_loop().create_future()
        self._queue.append((parameters, future))
        if not self._leading:
            self._leading = True
            await self._lead(future)
        return await future

    async def _lead(self, mine: asyncio.Future[tuple[int, bool]] | None) -> None:
        """Append what is queued, group after group (called with :attr:`_leading` set).

        A request's coroutine leads only until its own event is appended: events still queued
        then are handed on to a task of their own, which keeps leading, so that a steady stream
        of events never keeps the first request from its answer. An append interrupted (the
        leader cancelled) fails the events of its group; the queued ones are handed on.
        """
        try:
            while self._queue:
                group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
                try:
                    if len(group) == 1:
                        await self._append_alone(*group[0])
                    else:
                        await self._append_group(group)
                except BaseException:
                    self.close()  # the connection's state is unknown
                    for _, future in group:
                        if not future.done():
                            future.cancel()
                    raise
                if mine is not None and mine.done() and self._queue:
                    break
        finally:
            if self._queue:  # the leadership goes on with the queue (a task held, not lost)
                self._next = asyncio.get_running_loop().create_task(self._lead(None))
            else:
                self._leading = False

    async def _append_alone(
        self, parameters: list[Any], future: asyncio.Future[tuple[int, bool]]
    ) -> None:
        """One event, one autocommit statement; its outcome set on ``future``."""
        for attempt in (0, 1):
            try:
                conn = await self._connection()
                cursor = await conn.execute(self._statement.sql, parameters)
                row = await cursor.fetchone()
                break
            except psycopg.errors.UniqueViolation as exc:
                if attempt:
                    _settle(future, error=driver_error(exc, psycopg.Error))
                    return
            except psycopg.OperationalError as exc:
                self.close()
                if attempt:
                    _settle(future, error=driver_error(exc, psycopg.Error))
                    return
            except psycopg.Error as exc:
                _settle(future, error=driver_error(exc, psycopg.Error))
                return
        _settle(future, row=row)

    async def _append_group(self, group: list[_Pending]) -> None:
        """The events of ``group`` in one transaction, their statements pipelined (one round
        trip, one commit). Should the database refuse one of them (another writer logged the
        same event meanwhile) or the connection fail, the transaction is rolled back and
        each event is appended alone, so one event's error is only that event's."""
        try:
            conn = await self._connection()
            async with conn.pipeline(), conn.transaction():
                cursors = [await conn.execute(self._statement.sql, p) for p, _ in group]
            rows = [await cursor.fetchone() for cursor in cursors]
        except psycopg.Error as exc:
            if isinstance(exc, psycopg.OperationalError):
                self.close()  # each alone on a new connection (a closed one is reopened anyway)
            for parameters, future in group:
                await self._append_alone(parameters, future)
            return
        for (_, future), row in zip(group, rows, strict=True):
            _settle(future, row=row)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        """The connection, opened on the running loop (a connection belongs to one loop)."""
        loop = asyncio.get_running_loop()
        if self._conn is None or self._conn.closed or self._loop is not loop:
            self.close()
            self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
            self._loop = loop
        return self._conn

    def close(self) -> None:
        """Close the connection (from any thread or loop: libpq's close needs no loop)."""
        if self._conn is not None and not self._conn.closed:
            self._conn.pgconn.finish()
        self._conn = None
        self._loop = None


def _settle(
    future: asyncio.Future[tuple[int, bool]],
    *,
    row: Any = None,
    error: BaseException | None = None,
) -> None:
    """Give ``future`` the statement's answer ``(new id, id of the logged twin)`` as
    ``(event id, duplicate)``, or ``error``; a future nobody waits for any more is left."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
        return
    try:
        assert row is not None  # the statement answers one row
        new_id, existing = row
        if new_id is not None:
            future.set_result((int(new_id), False))
            return
        # neither appended nor found: no head row to move
        future.set_result((int(require_head(existing)), True))
    except Exception as exc:  # require_head's error is this event's
        future.set_exception(exc)
