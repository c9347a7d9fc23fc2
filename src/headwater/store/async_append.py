"""PostgreSQL: append one event from the server's event loop, on an asyncio connection.

A single event on PostgreSQL is one autocommit statement (:attr:`LogStatements.append_one`)
whose time is the round trip and the commit's WAL flush. Run from a request it went through a
worker thread and back: two thread wake-ups, about 0.4 ms on this kind of machine, a third of
the append. :class:`AsyncAppender` sends the same statement (compiled once,
:mod:`headwater.store.prepared`) on a psycopg ``AsyncConnection`` instead, so the event loop
waits on the socket like on any other I/O and serves other requests meanwhile.

One connection, used by one append at a time: :meth:`SqlStore.ingest_async` takes this path only
when no other append of the store is in flight, and concurrent events go through group commit
(:mod:`headwater.store.group_commit`), which shares commits between them.
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
        self.busy = False  # an append is in flight

    async def append(self, event: EventHeader, received_at: datetime) -> tuple[int, bool]:
        """Append ``event`` in a transaction of its own; ``(event id, duplicate)``.

        As the threaded path: the same event appended concurrently by another writer fails on
        the unique content hash and is run once more, then finds that writer's event; a
        connection the server dropped is replaced once.

        Raises:
            sqlalchemy.exc.DBAPIError: the database's error, as SQLAlchemy would raise it.
        """
        parameters = self._statement.parameters(event_columns(event, received_at))
        self.busy = True
        try:
            for attempt in (0, 1):
                try:
                    conn = await self._connection()
                    cursor = await conn.execute(self._statement.sql, parameters)
                    row = await cursor.fetchone()
                    break
                except psycopg.errors.UniqueViolation as exc:
                    if attempt:
                        raise driver_error(exc, psycopg.Error) from exc
                except psycopg.OperationalError as exc:
                    self.close()
                    if attempt:
                        raise driver_error(exc, psycopg.Error) from exc
                except psycopg.Error as exc:
                    raise driver_error(exc, psycopg.Error) from exc
        finally:
            self.busy = False
        assert row is not None  # the statement answers one row
        new_id, existing = row
        if new_id is not None:
            return int(new_id), False
        require_head(existing)  # neither appended nor found: no head row to move
        return int(existing), True

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
