"""Bulk inserts and list parameters, on both backends."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from headwater.store.bulk import (
    _copy_of,
    among,
    among_pairs,
    execute_many,
    insert_rows,
    pair_values,
)
from headwater.store.engine import create_engine_for
from headwater.store.schema import Json

metadata = MetaData()
things = Table(
    "bulk_things",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(20)),
    Column("body", Json),
    Column("at", DateTime(timezone=True)),
    Column("blob", LargeBinary().with_variant(postgresql.BYTEA(), "postgresql")),
    Column("flag", Boolean),
)
ROWS = [
    {
        "id": 1,
        "name": "one",
        "body": {"a": [1, 2.5, None], "b": "\u00e9"},
        "at": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "blob": b"\x00\xff raw",
        "flag": True,
    },
    {"id": 2, "name": None, "body": None, "at": None, "blob": None, "flag": None},
    {
        "id": 3,
        "name": "three",
        "body": [],
        "at": datetime(2026, 1, 1, tzinfo=UTC),
        "blob": b"",
        "flag": False,
    },
]


@pytest.fixture
def engine(store_url):
    engine = create_engine_for(store_url)
    metadata.create_all(engine)
    yield engine
    metadata.drop_all(engine)
    engine.dispose()


def test_insert_rows_round_trip(engine):
    with engine.begin() as conn:
        insert_rows(conn, things, ROWS)
    with engine.connect() as conn:
        got = [dict(r._mapping) for r in conn.execute(select(things).order_by(things.c.id))]
    for row in got:  # SQLite returns naive UTC times
        if row["at"] is not None and row["at"].tzinfo is None:
            row["at"] = row["at"].replace(tzinfo=UTC)
    assert got == ROWS


def test_a_refused_row_fails_the_whole_insert(engine):
    with engine.begin() as conn:
        insert_rows(conn, things, ROWS[:1])
    with pytest.raises(IntegrityError), engine.begin() as conn:  # SQLAlchemy's, as execute's
        insert_rows(conn, things, [ROWS[2], ROWS[0]])  # id 1 again
    with engine.connect() as conn:
        assert [r.id for r in conn.execute(select(things.c.id))] == [1]


def test_execute_many_raises_sqlalchemys_errors(engine):
    with pytest.raises(IntegrityError), engine.begin() as conn:
        execute_many(conn, things.insert(), [ROWS[0], ROWS[0]])


def test_execute_many_and_among(engine):
    with engine.begin() as conn:
        execute_many(conn, things.insert(), ROWS)
        arrays = conn.dialect.name == "postgresql"
        query = select(things.c.id).where(among(things.c.id, "ids", arrays=arrays))
        assert sorted(conn.execute(query, {"ids": [3, 1, 42]}).scalars()) == [1, 3]
        assert list(conn.execute(query, {"ids": []}).scalars()) == []
        by_name = select(things.c.id).where(among(things.c.name, "names", arrays=arrays))
        assert list(conn.execute(by_name, {"names": ["three"]}).scalars()) == [3]


def test_among_pairs(engine):
    with engine.begin() as conn:
        execute_many(conn, things.insert(), ROWS)  # (1, "one"), (2, None), (3, "three")
        arrays = conn.dialect.name == "postgresql"
        query = among_pairs(select(things.c.id), things.c.id, things.c.name, arrays=arrays)
        asked = [(1, "three"), (3, "one"), (3, "three")]
        got = set(conn.execute(query, pair_values(asked, arrays=arrays)).scalars())
        assert got == {3}  # exactly the pairs asked for: not the mixed (1, "one")
        assert list(conn.execute(query, pair_values([], arrays=arrays)).scalars()) == []


@pytest.mark.postgres
def test_copy_is_text_for_a_type_without_a_binary_adapter(fresh_postgres_url):
    mood = postgresql.ENUM("calm", "busy", name="bulk_mood")
    local = MetaData()
    moods = Table(
        "bulk_moods", local, Column("id", BigInteger, primary_key=True), Column("m", mood)
    )
    assert _copy_of(moods, ("id", "m"))[1] is None
    assert _copy_of(things, ("id", "blob"))[1] == ["bigint", "bytea"]
    engine = create_engine_for(fresh_postgres_url)
    local.create_all(engine)
    try:
        with engine.begin() as conn:
            insert_rows(conn, moods, [{"id": 1, "m": "busy"}, {"id": 2, "m": None}])
        with engine.connect() as conn:
            assert conn.execute(select(moods.c.m).order_by(moods.c.id)).scalars().all() == [
                "busy",
                None,
            ]
    finally:
        local.drop_all(engine)
        engine.dispose()
