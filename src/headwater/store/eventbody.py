"""The event log's ``raw`` column: an event's JSON bytes, zstd-compressed on SQLite.

An event's JSON (2-3 KB with schema and column lineage facets) compresses to about a fifth
(zstd level 1, 8 us an event). On SQLite that makes the log's bodies a fifth of the size, and an
append writes a fifth of the pages to the write-ahead log and then to the file when it is
checkpointed: appending a batch of 500 took 42 instead of 80 us an event, the compression
included. PostgreSQL compresses large values itself (TOAST), so there the bytes are stored as
they are.

Reading gives the bytes back exactly as they were appended, whichever way they were stored:
rows written before compression, and bodies emptied by retention (``b""``), read unchanged. A
stored body is compressed when it starts with zstd's frame magic, which JSON text cannot start
with.
"""

from __future__ import annotations

import threading
from typing import Any

import zstandard
from sqlalchemy import LargeBinary
from sqlalchemy.dialects.postgresql import BYTEA
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_LEVEL = 1  # level 3 is 15% slower for the same size on event JSON


class _Codecs(threading.local):
    """A compressor and a decompressor per thread (zstandard's are not thread-safe); building
    one per call costs twice the compression itself."""

    def __init__(self) -> None:
        self.compressor = zstandard.ZstdCompressor(level=_LEVEL)
        self.decompressor = zstandard.ZstdDecompressor()


_codecs = _Codecs()


def compress(body: bytes) -> bytes:
    """``body`` as one zstd frame (its size recorded, so :func:`expand` needs no bound)."""
    return _codecs.compressor.compress(body)


def expand(stored: bytes) -> bytes:
    """The event's bytes from what the log holds: decompressed when compressed, else as is."""
    if stored[:4] == ZSTD_MAGIC:
        return _codecs.decompressor.decompress(stored)
    return stored


class EventBody(TypeDecorator[bytes]):
    """``BYTEA`` on PostgreSQL, a BLOB on SQLite, where non-empty bodies are stored compressed."""

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        """BYTEA on PostgreSQL, LargeBinary elsewhere."""
        if dialect.name == "postgresql":
            return dialect.type_descriptor(BYTEA())
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        """Compress a non-empty body for SQLite."""
        if value and dialect.name == "sqlite":
            return compress(value)
        return value

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        """The appended bytes back."""
        if value is None:
            return None
        return expand(bytes(value))
