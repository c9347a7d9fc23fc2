"""What :mod:`headwater.store.sql` decides about driver errors."""

import psycopg
import pytest
from psycopg import errors

from headwater.store.sql import lost_connection


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
    from headwater.store.sql import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'cache.db'}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -64 * 1024
    finally:
        store.close()
