"""Edit the event log after the fact, as someone with write access to the database could."""

from __future__ import annotations

import shutil
from contextlib import suppress
from pathlib import Path

from sqlalchemy import Engine, create_engine, select, update

from headwater.store import schema as t
from headwater.store.engine import sqlite_log_path


def log_engine(db: Path | str) -> Engine:
    """A plain engine on the event log's file of the SQLite store at ``db`` (the log has a file
    of its own beside the store's), as someone with access to the files could open it."""
    return create_engine(f"sqlite:///{_log_file(db)}")


def _log_file(db: Path | str) -> Path:
    return sqlite_log_path(f"sqlite:///{db}")


def copy_sqlite_store(source: Path | str, dest: Path | str) -> None:
    """Copy the SQLite store at ``source`` to ``dest``: both its files, each with the WAL and
    shared-memory files beside it (recent pages live there)."""
    for src, dst in ((source, dest), (_log_file(source), _log_file(dest))):
        for suffix in ("", "-wal", "-shm"):
            with suppress(FileNotFoundError):
                shutil.copy(f"{src}{suffix}", f"{dst}{suffix}")


def edit_body(engine: Engine, event_id: int, old: str, new: str) -> None:
    """Replace ``old`` with ``new`` in one stored event's bytes, leaving its hashes as they were.

    The body is read and written through the log's column type, so it is stored as the store
    stores bodies (compressed on SQLite) and only its content differs.
    """
    with engine.begin() as conn:
        where = t.events.c.id == event_id
        body = conn.execute(select(t.events.c.raw).where(where)).scalar_one()
        assert old.encode() in body
        conn.execute(
            update(t.events).where(where).values(raw=body.replace(old.encode(), new.encode()))
        )
