"""Engines for the store's databases: lost PostgreSQL connections, SQLite's two files and settings."""

import shutil
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from factories import run_event
from headwater.store import open_store
from headwater.store.base import StoreError
from headwater.store.engine import lost_connection, sqlite_log_path
from headwater.store.sql import SqlStore


@pytest.mark.parametrize(
    ("error", "lost"),
    [
        (psycopg.OperationalError("connection socket closed"), True),
        (
            psycopg.OperationalError(
                "sending query failed: another command is already in progress"
            ),
            True,
        ),
        (errors.AdminShutdown("terminating connection due to administrator command"), True),
        (errors.CannotConnectNow("the database system is starting up"), True),
        (errors.ConnectionFailure("connection failure"), True),
        (errors.LockNotAvailable("could not obtain lock"), False),  # the session lives on
        (errors.QueryCanceled("canceling statement due to statement timeout"), False),
        (errors.UniqueViolation("duplicate key"), False),
        (ValueError("not a driver error"), False),
    ],
)
def test_which_driver_errors_lose_the_connection(error, lost):
    assert lost_connection(error) is lost


def test_sqlite_connections_keep_a_page_cache_larger_than_the_default(tmp_path):
    """SQLite's 2 MiB default no longer holds the lineage indexes past a few thousand events."""
    store = SqlStore(f"sqlite:///{tmp_path / 'cache.db'}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -64 * 1024
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "log"),
    [
        ("sqlite:///./headwater.db", "headwater.events.db"),
        ("sqlite:////var/lib/lineage/store.sqlite3", "/var/lib/lineage/store.events.sqlite3"),
        ("sqlite:///lineage", "lineage.events"),
    ],
)
def test_a_sqlite_store_keeps_its_log_beside_its_file(url, log):
    assert sqlite_log_path(url) == Path(log)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "postgresql://x@h/db"])
def test_only_a_sqlite_file_has_a_log_file(url):
    with pytest.raises(StoreError, match="needs a file"):
        sqlite_log_path(url)


def test_the_log_is_its_own_file_attached_read_only(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'h.db'}")
    store.upgrade()
    try:
        with store.engine.connect() as conn:
            files = {name: path for _, name, path in conn.exec_driver_sql("PRAGMA database_list")}
            assert Path(files["log"]) == tmp_path / "h.events.db"
            assert conn.exec_driver_sql("PRAGMA log.query_only").scalar_one() == 0
            tables = conn.exec_driver_sql("SELECT name FROM main.sqlite_master").scalars().all()
            assert "events" not in tables and "runs" in tables
        with store.log_engine.connect() as conn:
            tables = conn.exec_driver_sql("SELECT name FROM sqlite_master").scalars().all()
            assert {"events", "chain_head"} <= set(tables) and "runs" not in tables
    finally:
        store.close()


def test_a_store_without_its_log_file_is_refused(tmp_path):
    """The store's file copied alone: opening it names the missing file, and changes nothing."""
    source = tmp_path / "a" / "h.db"
    source.parent.mkdir()
    store = open_store(f"sqlite:///{source}")
    store.ingest(run_event())
    store.catch_up()
    store.close()
    alone = tmp_path / "b" / "h.db"
    alone.parent.mkdir()
    shutil.copy(source, alone)
    with pytest.raises(StoreError, match=r"h\.events\.db holds no event log.*together"):
        open_store(f"sqlite:///{alone}")
    again = open_store(f"sqlite:///{source}")  # the original, both files: as it was
    assert again.list_events()[1] == 1
    again.close()


def test_a_store_path_may_hold_characters_a_uri_gives_meaning_to(tmp_path):
    """The store's file is opened, and the log's attached, by URI: a space, ``#`` or ``%`` in
    the path is the path's, not a URI's part (a ``?`` the store URL itself reads as its query)."""
    folder = tmp_path / "lineage store #1 (50%)"
    folder.mkdir()
    store = open_store(f"sqlite:///{folder / 'h.db'}")
    try:
        store.ingest(run_event())
        assert store.catch_up() == 1
        with store.engine.connect() as conn:
            files = {name: path for _, name, path in conn.exec_driver_sql("PRAGMA database_list")}
        assert files == {"main": str(folder / "h.db"), "log": str(folder / "h.events.db")}
        assert sorted(p.name for p in folder.iterdir() if p.suffix == ".db") == [
            "h.db",
            "h.events.db",
        ]
    finally:
        store.close()
