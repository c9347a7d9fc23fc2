"""Lineage storage: one interface (:class:`LineageStore`), SQLite and PostgreSQL behind it."""

from __future__ import annotations

import os

from headwater.store.base import (
    BatchItemResult,
    ColumnEdge,
    ColumnReach,
    IngestResult,
    LineageStore,
    NotFound,
    ReachedColumn,
    StoreError,
    TableEdges,
)

DEFAULT_URL = "sqlite:///./headwater.db"

__all__ = [
    "DEFAULT_URL",
    "BatchItemResult",
    "ColumnEdge",
    "ColumnReach",
    "IngestResult",
    "LineageStore",
    "NotFound",
    "ReachedColumn",
    "StoreError",
    "TableEdges",
    "open_store",
    "resolve_url",
]


def resolve_url(url: str | None = None) -> str:
    """The store URL: the argument, else ``HEADWATER_DB_URL``, else ``sqlite:///./headwater.db``."""
    return url or os.environ.get("HEADWATER_DB_URL") or DEFAULT_URL


def open_store(url: str | None = None, *, upgrade: bool = True) -> LineageStore:
    """Open the lineage store at ``url`` (see :func:`resolve_url`), migrating its schema.

    Args:
        url: ``sqlite:///path.db`` or ``postgresql://user@host:port/db``.
        upgrade: create or migrate the schema first (never drops data).

    Returns:
        The store.
    """
    from headwater.store.sql import SqlStore

    store = SqlStore(resolve_url(url))
    if upgrade:
        store.upgrade()
    return store
