"""The SQLite datetime type writes exactly what SQLAlchemy's would."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, select
from sqlalchemy.dialects import sqlite

from headwater.store import schema as t
from headwater.store.sqlitetime import SqliteTime

DIALECT = sqlite.dialect()
OURS = SqliteTime().bind_processor(DIALECT)
SQLALCHEMYS = sqlite.DATETIME().bind_processor(DIALECT)


@given(st.datetimes(timezones=st.none() | st.just(UTC) | st.timezones()))
def test_same_text_as_sqlalchemy(value):
    assert OURS(value) == SQLALCHEMYS(value)


@pytest.mark.parametrize(
    "value",
    [
        datetime(1, 1, 1),
        datetime(999, 12, 31, 23, 59, 59, 999999),
        datetime(2025, 1, 17),
        datetime(2025, 1, 17, 0, 1, 2, 123, tzinfo=timezone(timedelta(hours=5))),
        date(2025, 1, 17),
        None,
    ],
)
def test_edges_as_sqlalchemy(value):
    assert OURS(value) == SQLALCHEMYS(value)


@given(
    st.lists(st.datetimes(timezones=st.none() | st.just(UTC)) | st.none(), min_size=1, max_size=4),
    st.lists(st.integers(0, 3), max_size=30),
)
def test_values_written_again_keep_their_text(pool, picks):
    """A batch writes the same datetime object into many rows (formatted once), among others."""
    ours = SqliteTime().bind_processor(DIALECT)  # a fresh processor: nothing written yet
    for k in picks:
        value = pool[k % len(pool)]
        assert ours(value) == SQLALCHEMYS(value)


def test_not_a_datetime_is_refused_as_sqlalchemy_does():
    with pytest.raises(TypeError):
        OURS("2025-01-17")


def test_round_trip_through_a_time_column(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    t.metadata.create_all(engine, tables=[t.chain_head, t.events])
    when = datetime(2025, 1, 17, 0, 1, 2, 123, tzinfo=UTC)
    row = {
        "content_hash": "a" * 64,
        "chain_hash": "b" * 64,
        "prev_hash": "0" * 64,
        "kind": "run",
        "event_time": when,
        "received_at": when,
        "raw": b"{}",
    }
    with engine.begin() as conn:
        conn.execute(t.events.insert(), row)
        stored = conn.exec_driver_sql("SELECT event_time FROM events").scalar_one()
        back = conn.execute(select(t.events.c.event_time)).scalar_one()
    assert stored == "2025-01-17 00:01:02.000123"
    assert back.replace(tzinfo=UTC) == when
