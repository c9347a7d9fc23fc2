"""Online backups of a SQLite store: both its files, consistent with each other, compacted.

A SQLite store is two files (:func:`headwater.store.engine.sqlite_log_path`), and copying them
while a server writes can catch one mid-commit or the two at different moments. ``VACUUM INTO``
writes a consistent snapshot of one file while writers go on (in WAL mode it only reads); the
store's file is written first and the log's second, so the copy of the log holds every event
the copy of the tables was projected from (and maybe a few more, which the next read projects).
Pages a migration or retention left free are not copied. A PostgreSQL store is one database,
backed up with PostgreSQL's own tools (``pg_dump``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from headwater.store.base import StoreError
from headwater.store.engine import LOG_SCHEMA, sqlite_log_path
from headwater.store.sql import SqlStore


@dataclass(frozen=True)
class Backup:
    """What :func:`backup` wrote: the store's file, the log's file and how many events."""

    store_file: Path
    log_file: Path
    events: int


def backup(store: SqlStore, dest: Path) -> Backup:
    """Write a consistent copy of the SQLite ``store`` to ``dest`` and the log's file beside it.

    Args:
        store: an open SQLite store (it may be in use: appends and projection go on).
        dest: the copy's file, as a store URL names it (``sqlite:///dest``); neither it nor its
            log's file may exist.

    Returns:
        The files written and the number of events in the copy of the log.

    Raises:
        StoreError: a PostgreSQL store, a destination that exists, or a directory that does
            not; nothing is written then. Should the copy fail midway, what it wrote is removed.
    """
    if store.dialect != "sqlite":
        raise StoreError("a PostgreSQL store is one database: back it up with pg_dump")
    log_file = sqlite_log_path(f"sqlite:///{dest}")
    for path in (dest, log_file):
        if path.exists():
            raise StoreError(f"{path} exists: a backup writes new files")
    if not dest.parent.is_dir():
        raise StoreError(f"{dest.parent} is not a directory")
    raw = store.engine.raw_connection()  # VACUUM runs outside a transaction
    try:
        driver = raw.driver_connection
        assert driver is not None
        driver.execute("VACUUM main INTO ?", (str(dest),))  # the tables first, then the log
        driver.execute(f"VACUUM {LOG_SCHEMA} INTO ?", (str(log_file),))
    except sqlite3.Error as exc:
        for path in (dest, log_file):
            path.unlink(missing_ok=True)
        raise StoreError(f"the backup to {dest} failed: {exc}") from exc
    finally:
        raw.close()
    for path in (dest, log_file):  # as the store keeps its files (VACUUM INTO writes rollback mode)
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
    conn = sqlite3.connect(log_file)
    try:
        events = int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
    finally:
        conn.close()
    return Backup(dest, log_file, events)
