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
from sqlalchemy import Connection, Engine, MetaData, func, insert, inspect, select, text
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table

from headwater.store.engine import LOG_SCHEMA, sqlite_log_path
from headwater.store.schema import CHAIN, GENESIS, chain_head, events, metadata

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


# SQLite: the revision before the one that moves the event log into a file of its own (0008);
# at it, the log is copied there, in a transaction of the log's file only.
_BEFORE_LOG_FILE = "0007"
_LOG_TABLES = (events, chain_head)


def upgrade(engine: Engine) -> None:
    """Create the schema on an empty database or migrate it to the newest revision."""
    if engine.dialect.name == "sqlite":
        _upgrade_sqlite(engine)
        return
    with migrating(engine) as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATE_LOCK_KEY})
        cfg = alembic_config(conn)
        revision = MigrationContext.configure(conn).get_current_revision()
        if revision is None and not inspect(conn).has_table("events"):
            metadata.create_all(conn)
            _start_chain(conn)
            command.stamp(cfg, "head")
        elif revision != head_revision():
            command.upgrade(cfg, "head")


def _upgrade_sqlite(engine: Engine) -> None:
    """:func:`upgrade` on SQLite, whose event log has a file of its own (revision 0008 on).

    A transaction over two files is atomic in each, not across them (WAL mode), so every step
    writes one file: an empty store gets the log's tables first, then its own (and its revision
    stamp); an older one is migrated up to the revision before the move, its log copied into the
    log's file, and only then migrated on (0008 checks the copy, then drops the store file's
    log). A step cut short leaves the previous one's state, which the next start resumes from:
    a copy made again replaces a partial one. Each step runs under the store file's write lock,
    so concurrent first starts take turns.
    """
    with migrating(engine) as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        if revision is None and not inspect(conn).has_table("events"):
            _create_log_tables(conn)
    with migrating(engine) as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
        if revision is None and not inspect(conn).has_table("events"):
            metadata.create_all(
                conn, tables=[x for x in metadata.sorted_tables if x not in _LOG_TABLES]
            )
            command.stamp(alembic_config(conn), "head")
            return
        if revision is not None and revision < _BEFORE_LOG_FILE:
            command.upgrade(alembic_config(conn), _BEFORE_LOG_FILE)
            check_references(conn)
    with migrating(engine) as conn:
        if MigrationContext.configure(conn).get_current_revision() == _BEFORE_LOG_FILE:
            _copy_log_to_file(conn)
    with migrating(engine) as conn:
        if MigrationContext.configure(conn).get_current_revision() != head_revision():
            command.upgrade(alembic_config(conn), "head")
            check_references(conn)


def _create_log_tables(conn: Connection) -> None:
    """SQLite: the event log's tables in its file (attached as :data:`LOG_SCHEMA`), the chain
    at its start; what a cut-short first start left is kept."""
    in_log = _log_tables_created(conn)
    if in_log.execute(select(func.count()).select_from(chain_head)).scalar_one() == 0:
        _start_chain(in_log)


def _log_tables_created(conn: Connection) -> Connection:
    """SQLite: the log's tables created in its file where missing; ``conn`` with their names
    translated there."""
    in_log = conn.execution_options(schema_translate_map={None: LOG_SCHEMA})
    metadata.create_all(in_log, tables=list(_LOG_TABLES))
    return in_log


def _start_chain(conn: Connection) -> None:
    conn.execute(insert(chain_head).values(name=CHAIN, chain_hash=GENESIS, prev_hash=GENESIS))


def _copy_log_to_file(conn: Connection) -> None:
    """SQLite, at revision 0007: copy the store file's ``events`` and ``chain_head`` into the
    log's file (in :func:`migrating`, which attaches it writable), replacing what an earlier,
    cut-short copy left there. Writes the log's file only."""
    for table in reversed(_LOG_TABLES):
        table.drop(conn.execution_options(schema_translate_map={None: LOG_SCHEMA}), checkfirst=True)
    _log_tables_created(conn)
    for table in _LOG_TABLES:
        names = [c.name for c in table.c]
        copied = table.to_metadata(MetaData(), schema=LOG_SCHEMA)
        source = sa_table(table.name, *(sa_column(n) for n in names), schema="main")
        conn.execute(insert(copied).from_select(names, select(*source.c)))


@contextmanager
def migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction to migrate the schema in (committed when the block ends).

    On SQLite, foreign keys are off in it, as SQLite's recipe for rebuilding a table asks (a
    revision that copies a table drops the old one, to which other tables refer): call
    :func:`check_references` after migrating, before the block ends. The event log's file is
    attached writable in it (the store's connections attach it read-only), and the connection
    is discarded afterwards rather than returned to the pool so attached.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                yield conn
            return
        sqlite = conn.connection.driver_connection
        assert sqlite is not None
        attached = {row[1]: row[2] for row in sqlite.execute("PRAGMA database_list")}
        log_file = sqlite_log_path(f"sqlite:///{attached['main']}")
        if LOG_SCHEMA in attached:
            sqlite.execute(f"DETACH DATABASE {LOG_SCHEMA}")
        sqlite.execute(f"ATTACH DATABASE ? AS {LOG_SCHEMA}", (str(log_file),))
        sqlite.execute("PRAGMA foreign_keys=OFF")  # outside a transaction, or it does nothing
        try:
            with conn.begin():
                yield conn
        finally:
            conn.invalidate()  # attached writable: not for the pool


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
