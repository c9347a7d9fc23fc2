"""Schema creation and migration (Alembic).

An empty database gets the current schema from :data:`headwater.store.schema.metadata`
and is stamped at the newest revision (as dagster does); a database created by an
older Headwater is migrated with the revisions under ``migrations/versions``.
Nothing here drops data. Concurrent first starts are serialized (PostgreSQL
advisory lock; SQLite ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, insert, inspect, text

from headwater.store.schema import CHAIN, GENESIS, chain_head, metadata

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATE_LOCK_KEY = 0x48_57_4D_47  # "HWMG"


def alembic_config(conn: Connection) -> Config:
    """An Alembic config bound to ``conn`` (no ini file needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def head_revision() -> str:
    """The newest migration revision shipped with this Headwater."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None when it has no Headwater schema)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Create the schema on an empty database or migrate it to the newest revision."""
    with migrating(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK_KEY})
        cfg = alembic_config(conn)
        revision = MigrationContext.configure(conn).get_current_revision()
        if revision is None and not inspect(conn).has_table("events"):
            metadata.create_all(conn)
            conn.execute(
                insert(chain_head).values(name=CHAIN, chain_hash=GENESIS, prev_hash=GENESIS)
            )
            command.stamp(cfg, "head")
        elif revision != head_revision():
            command.upgrade(cfg, "head")
            check_references(conn)


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction to migrate the schema in (committed when the block ends).

    On SQLite, foreign keys are off in it, as SQLite's recipe for rebuilding a table asks (a
    revision that copies a table drops the old one, to which other tables refer): call
    :func:`check_references` after migrating, before the block ends.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                yield conn
            return
        sqlite = conn.connection.driver_connection
        assert sqlite is not None
        sqlite.execute("PRAGMA foreign_keys=OFF")  # outside a transaction, or it does nothing
        try:
            with conn.begin():
                yield conn
        finally:
            sqlite.execute("PRAGMA foreign_keys=ON")


def check_references(conn: Connection) -> None:
    """SQLite, in :func:`migrating`: refuse rows that refer to missing ones (PostgreSQL checks
    its foreign keys on every statement).

    Raises:
        RuntimeError: some rows do; raised inside the block, it rolls the migration back.
    """
    if conn.dialect.name != "sqlite":
        return
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        msg = f"the migration left rows referring to missing ones: {broken[:5]}"
        raise RuntimeError(msg)
