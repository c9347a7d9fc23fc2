"""Tamper evidence: recompute the event log's hash chain.

Each stored event has ``content_hash`` (SHA-256 of its canonical JSON) and
``chain_hash = sha256(prev_hash + content_hash)``, where ``prev_hash`` is the
previous event's ``chain_hash`` (all zeros for the first). Editing an event's
bytes, deleting one, or reordering them breaks the chain at that point; deleting
the newest ones leaves the log ending before the chain head (``chain_head``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from headwater.model.events import canonical_hash, loads
from headwater.store import schema as t
from headwater.store.base import LineageStore
from headwater.store.engine import READ_ONLY
from headwater.store.ingest import GENESIS, LOG, chain


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of :func:`verify_chain`.

    Attributes:
        ok: the whole chain verifies.
        checked: events checked.
        first_bad_id: id of the first event that fails, if any.
        pruned: events whose bodies retention removed (linked by their stored hashes only).
        reason: why it fails.
    """

    ok: bool
    checked: int
    first_bad_id: int | None = None
    reason: str | None = None
    pruned: int = 0


def verify_chain(store: LineageStore) -> ChainReport:
    """Recompute every event's content and chain hash, in ingestion order."""
    engine = getattr(store, "engine", None)
    if engine is None:
        msg = "chain verification needs a SQL store"
        raise TypeError(msg)
    prev = GENESIS
    checked = pruned = 0
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        rows = conn.execution_options(yield_per=1000).execute(
            select(
                t.events.c.id,
                t.events.c.raw,
                t.events.c.content_hash,
                t.events.c.prev_hash,
                t.events.c.chain_hash,
            ).order_by(t.events.c.id)
        )
        for row in rows:
            checked += 1
            if len(row.raw) == 0:  # pruned by retention: only the stored hashes remain to link
                content = row.content_hash
                pruned += 1
            else:
                try:
                    data, finite = loads(bytes(row.raw))
                    content = canonical_hash(data, finite=finite)
                except ValueError:
                    return ChainReport(False, checked, row.id, "stored bytes are not JSON any more")
                if content != row.content_hash:
                    return ChainReport(False, checked, row.id, "event content was altered")
            if row.prev_hash != prev:
                return ChainReport(
                    False, checked, row.id, "an event before this one is missing or was reordered"
                )
            if chain(prev, content) != row.chain_hash:
                return ChainReport(False, checked, row.id, "chain hash does not match")
            prev = row.chain_hash
        head = conn.execute(LOG.head).scalar()
    if head is not None and head != prev:  # every append moves the head to its event
        return ChainReport(
            False, checked, None, "the newest events were removed: the log ends before its head"
        )
    return ChainReport(True, checked, pruned=pruned)
