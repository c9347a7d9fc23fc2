"""SQLite's ``DATETIME`` column type, written by ``datetime.isoformat``.

SQLAlchemy stores a datetime in SQLite as text, ``2025-01-17 00:01:02.000123`` (the zone
dropped: Headwater's times are UTC), formatting each one from a dict of its fields. Appending an
event writes two (its time and when it was received), which took 7% of a batch append;
``isoformat`` writes the same text in a fifth of the time. Reading is SQLAlchemy's as before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import sqlite

_TEXT_LENGTH = len("2025-01-17 00:01:02.000123")


class SqliteTime(sqlite.DATETIME):
    """``DATETIME`` on SQLite whose bind processor formats datetimes with ``isoformat`` (the
    same text as SQLAlchemy's; anything else, dates included, goes SQLAlchemy's way)."""

    cache_ok = True

    def bind_processor(self, dialect: Any) -> Callable[[Any], Any]:
        """The processor: ``isoformat`` cut before the zone, for datetimes of years 1000 on."""
        general = super().bind_processor(dialect)
        assert general is not None

        def process(value: Any) -> Any:
            if type(value) is datetime and value.year >= 1000:
                return value.isoformat(" ", "microseconds")[:_TEXT_LENGTH]
            return general(value)

        return process
