"""The event log's bodies: compressed on SQLite, as they are on PostgreSQL, read back exactly."""

import json

from sqlalchemy import text

from factories import dataset, run_event
from headwater.model import DatasetId
from headwater.store import open_store
from headwater.store.audit import verify_chain
from headwater.store.eventbody import ZSTD_MAGIC, compress, expand


def test_expand_reverses_compress_and_passes_stored_json_through():
    body = json.dumps(run_event(outputs=[dataset("t", fields=["a", "b"])])).encode()
    packed = compress(body)
    assert packed.startswith(ZSTD_MAGIC)
    assert len(packed) < len(body)
    assert expand(packed) == body
    assert expand(body) == body  # a body stored before compression
    assert expand(b"") == b""  # a body emptied by retention


def _stored(store) -> list[bytes]:
    """The ``raw`` column as the database holds it (plain SQL: no type processing)."""
    with store.log_engine.connect() as conn:
        return [bytes(r[0]) for r in conn.execute(text("SELECT raw FROM events ORDER BY id"))]


def _events(n: int) -> list[bytes]:
    return [
        json.dumps(
            run_event(job=f"job{i}", outputs=[dataset(f"t{i}", fields=["a", "b", "c"])], at=i),
            indent=2,  # bytes as a producer sent them, not compact
        ).encode()
        for i in range(n)
    ]


def test_bodies_round_trip_byte_for_byte(store):
    payloads = _events(4)
    store.ingest(payloads[0])
    store.ingest_many(payloads[1:])
    assert list(store.export_events()) == payloads
    stored = _stored(store)
    if store.dialect == "sqlite":
        assert all(s.startswith(ZSTD_MAGIC) for s in stored)
        assert sum(map(len, stored)) < sum(map(len, payloads)) / 2
    else:  # PostgreSQL compresses large values itself (TOAST)
        assert stored == payloads
    assert verify_chain(store).ok
    assert store.get_dataset(DatasetId("warehouse", "t3"))["name"] == "t3"


def test_bodies_stored_before_compression_still_read(tmp_path):
    """A log written by a release that stored bodies as they came: export, audit and the
    projection read those rows as they are, beside compressed ones."""
    store = open_store(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        old, new = _events(2)
        store.ingest(old)
        with store.log_engine.begin() as conn:  # as the older release left it
            conn.execute(text("UPDATE events SET raw = :b"), {"b": old})
        store.ingest(new)
        assert _stored(store)[0] == old
        assert list(store.export_events()) == [old, new]
        assert verify_chain(store).ok
        for name in ("t0", "t1"):  # projected from either form
            assert store.get_dataset(DatasetId("warehouse", name))["name"] == name
    finally:
        store.close()
