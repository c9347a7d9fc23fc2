"""Many rows in one call: the write paths' bulk inserts and ``executemany``.

Both run on the caller's transaction (its connection), so they commit or roll back with the rest,
and both skip SQLAlchemy's per-row work where it costs more than the write: on PostgreSQL new
rows are streamed with ``COPY`` (one command, no statement and parameter set per row); on SQLite
statements run on the driver's cursor, compiled once (:mod:`headwater.store.prepared`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    Select,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    column,
    func,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from headwater.store.jsontext import json_dumps
from headwater.store.prepared import Prepared

Row = Mapping[str, Any]


def driver_error(exc: Exception, base: type[Exception]) -> DBAPIError:
    """The SQLAlchemy error (``IntegrityError``, ``OperationalError``, ...) that
    :meth:`Connection.execute` raises for the driver's error ``exc`` (``base``: the driver's
    ``Error`` class)."""
    error = DBAPIError.instance(None, None, exc, base)
    assert isinstance(error, DBAPIError)  # a driver's error always maps to one
    return error


@contextmanager
def _as_sqlalchemy_errors(conn: Connection) -> Iterator[None]:
    """Raise what the driver raises as SQLAlchemy's errors: the calls here bypass
    :meth:`Connection.execute`, and callers catch ``DBAPIError`` (a refused batch is retried
    event by event)."""
    base = conn.dialect.loaded_dbapi.Error
    try:
        yield
    except base as exc:
        raise driver_error(exc, base) from exc


def insert_rows(conn: Connection, table: Table, rows: Sequence[Row]) -> None:
    """Insert ``rows`` (dicts with the same keys) known not to be in ``table`` yet.

    ``COPY`` on PostgreSQL, ``executemany`` of the table's INSERT on SQLite (see
    :func:`execute_many`). A row the database refuses fails the whole call, as one statement,
    with SQLAlchemy's error for it.
    """
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        execute_many(conn, _insert_of(table), rows)
        return
    from psycopg.types.json import Jsonb

    columns = tuple(rows[0])
    command, types = _copy_of(table, columns)
    json_columns = {c for c in columns if isinstance(table.c[c].type, JSON)}
    raw = conn.connection.driver_connection
    assert raw is not None
    with _as_sqlalchemy_errors(conn), raw.cursor() as cursor, cursor.copy(command) as copy:
        if types is not None:
            copy.set_types(types)
        if not json_columns:
            for row in rows:
                copy.write_row([row[c] for c in columns])
            return
        for row in rows:
            copy.write_row(
                [Jsonb(row[c], dumps=json_dumps) if c in json_columns else row[c] for c in columns]
            )


@lru_cache(maxsize=64)
def _copy_of(table: Table, columns: tuple[str, ...]) -> tuple[Any, list[str] | None]:
    """The ``COPY`` of ``columns`` into ``table`` and the columns' PostgreSQL types.

    Binary rows cost psycopg a quarter of the text format's time and the server no parsing
    (a BYTEA column's hex text, for one); the types are the columns' as the dialect renders
    them (``VARCHAR(64)`` is ``varchar``). A type psycopg has no binary adapter for makes the
    table's ``COPY`` text (types None), which the server converts.
    """
    import psycopg
    from psycopg import sql

    dialect = postgresql.dialect()
    types = [
        re.sub(r"\(.*\)", "", table.c[c].type.compile(dialect=dialect)).strip().lower()
        for c in columns
    ]
    binary = all(psycopg.adapters.types.get(name) is not None for name in types)
    command = sql.SQL("COPY {} ({}) FROM STDIN" + (" (FORMAT BINARY)" if binary else "")).format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    return command, types if binary else None


def execute_many(conn: Connection, statement: Any, rows: Sequence[Row]) -> None:
    """``executemany`` of ``statement`` over ``rows``; on SQLite on the driver's cursor, the
    statement prepared once: SQLAlchemy builds each row's parameters through several layers,
    most of a write step's time there."""
    if rows:
        many(conn.dialect, statement, rows)(conn)


def many(dialect: Dialect, statement: Any, rows: Sequence[Row]) -> Callable[[Connection], None]:
    """:func:`execute_many` in two steps: the parameters now, the statement on the connection
    the returned function is given (SQLite's projection builds them before it takes the write
    lock, and holds the lock only to run the statements)."""
    keys = rows[0].keys() if rows else ()
    if not rows or dialect.name != "sqlite" or any(r.keys() != keys for r in rows):
        values = list(rows)

        def through_sqlalchemy(conn: Connection) -> None:
            if values:
                conn.execute(statement, values)

        return through_sqlalchemy
    prepared = _prepared(statement, dialect, tuple(keys) if statement.is_insert else None)
    parameters = [prepared.parameters(r) for r in rows]

    def run(conn: Connection) -> None:
        driver = conn.connection.driver_connection  # the transaction's own connection
        assert driver is not None
        cursor = driver.cursor()
        try:
            with _as_sqlalchemy_errors(conn):
                cursor.executemany(prepared.sql, parameters)
        finally:
            cursor.close()

    return run


def insert_later(
    dialect: Dialect, table: Table, rows: Sequence[Row]
) -> Callable[[Connection], None]:
    """:func:`insert_rows` in two steps, as :func:`many`: the parameters now (SQLite), the
    insert on the connection the returned function is given."""
    if dialect.name == "sqlite":
        return many(dialect, _insert_of(table), rows)
    values = list(rows)
    return lambda conn: insert_rows(conn, table, values)


def among(column: Any, name: str, *, arrays: bool) -> ColumnElement[bool]:
    """``column`` is one of the list given as parameter ``name`` at execution.

    Args:
        arrays: ``column = ANY(:name)``, the list one array parameter (PostgreSQL): the
            statement's text is the same whatever the list's length, so it is neither rendered
            with a placeholder per item nor parsed and planned anew per length; else
            ``column IN (...)``, an expanding parameter (SQLite, which has no arrays).
    """
    if arrays:
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))


def among_pairs(query: Select[Any], first: Any, second: Any, *, arrays: bool) -> Select[Any]:
    """``query`` kept to the rows whose ``(first, second)`` is one of the pairs given at
    execution (:func:`pair_values`); both columns lead an index of their table.

    The table is joined with the pairs, read from one JSON parameter, one index probe per pair:
    on PostgreSQL (``arrays``, as :func:`among`) as records typed like the two columns
    (``json_to_recordset``), on SQLite as arrays (``json_each``). A condition per column (two
    ``IN`` lists, or ``= ANY`` of two arrays) made both databases probe every combination of
    their values: for 500 pairs, 250,000 probes, 34 ms on SQLite and 116 ms on PostgreSQL, where
    the joins take 1-2 ms. One JSON text is also quicker to send than two arrays, which psycopg
    writes item by item (500 times a batch took 7% of the server's time).
    """
    if arrays:
        given = (
            func.json_to_recordset(cast(bindparam("pairs", type_=Text), JSON))
            .table_valued(column("f", first.type), column("s", second.type))
            .render_derived(with_types=True)
        )
        on = and_(first == given.c.f, second == given.c.s)
    else:
        given = func.json_each(bindparam("pairs", type_=Text)).table_valued("value")
        on = and_(
            first == func.json_extract(given.c.value, "$[0]"),
            second == func.json_extract(given.c.value, "$[1]"),
        )
    return query.join_from(given, first.table, on)


def pair_values(pairs: Iterable[tuple[Any, Any]], *, arrays: bool) -> dict[str, Any]:
    """The parameter of an :func:`among_pairs` query for these pairs (times given aware, or
    naive in UTC)."""
    ordered = sorted(set(pairs))
    if arrays:
        records = [{"f": a, "s": b} for a, b in ordered]
        return {"pairs": orjson.dumps(records, option=orjson.OPT_NAIVE_UTC).decode()}
    return {"pairs": orjson.dumps(ordered).decode()}


def newest_id(conn: Connection, table: Table) -> int:
    """The largest ``id`` in ``table`` (0 when empty). On SQLite, whose new rows take the largest
    rowid plus one, the ids rows inserted next get (in a write transaction: for sure)."""
    return int(conn.execute(_newest_id_of(table)).scalar_one())


@lru_cache(maxsize=64)
def _newest_id_of(table: Table) -> Any:
    return select(func.coalesce(func.max(table.c.id), 0))


@lru_cache(maxsize=64)
def _insert_of(table: Table) -> Any:
    return table.insert()


@lru_cache(maxsize=64)
def _prepared(statement: Any, dialect: Any, keys: tuple[str, ...] | None) -> Prepared:
    return Prepared(statement, dialect, keys)
