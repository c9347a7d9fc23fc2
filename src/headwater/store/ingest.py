"""The write path's log and rules: append validated events, and what projecting them means.

Ingestion is two steps, each inside the caller's transaction. :func:`append` adds
accepted events to the ``events`` log (the source of truth) in one short
transaction: that is all a producer waits for. :mod:`headwater.store.projection`
later applies logged events, in log order and in batches, to the normalized tables
(the store's projector, run by a background thread in the server and by every read
before it reads, so reads always see every accepted event). The rules, shared by
both, with the helpers below:

* idempotent: events are keyed by their canonical content hash; a duplicate is
  not appended again and changes nothing;
* order-tolerant: run state is decided by event semantics, not arrival order (a
  terminal state is never reopened by a late START/RUNNING; among terminal
  events the latest ``eventTime`` wins); run facets are kept per event and
  merged in event-time order on read;
* a run's inputs and outputs are the union over all its events, and the job
  version is recomputed from that union (plus the SQL), so a START carrying
  only inputs and a COMPLETE carrying only outputs make one version;
* column lineage is stored in full (every transformation, and the facet's
  dataset-level ``dataset`` entries), per job version;
* tamper evidence: each event row carries ``chain_hash = sha256(prev_hash +
  content_hash)``; writers serialize on the chain head's row (``chain_head``), which
  every append moves to the newest event.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from headwater.model.events import EventHeader, ValidatedEvent, loads, parse_time
from headwater.model.nodes import JobId
from headwater.store import schema as t
from headwater.store.bulk import among_pairs, insert_rows, pair_values
from headwater.store.prepared import Prepared
from headwater.store.schema import GENESIS

VERSION_NS = uuid.UUID("6f1c8a53-8d0c-4b3e-9a43-5e0f3f6f2c11")

RUN_STATES = {
    "START": "RUNNING",
    "RUNNING": "RUNNING",
    "COMPLETE": "COMPLETED",
    "FAIL": "FAILED",
    "ABORT": "ABORTED",
}
TERMINAL = frozenset({"COMPLETED", "FAILED", "ABORTED"})

InsertFn = Callable[[Any], Any]  # postgresql.insert or sqlite.insert (both offer on_conflict_*)


def chain(prev_hash: str, content_hash: str) -> str:
    """The next hash of the event chain."""
    return hashlib.sha256(f"{prev_hash}{content_hash}".encode()).hexdigest()


_VERSION_NS_BYTES = VERSION_NS.bytes


def version_uuid(*parts: str) -> str:
    """A deterministic version id (UUID 5) of the given parts: ``str(uuid.uuid5(VERSION_NS,
    "\x1f".join(parts)))``, written from the SHA-1 digest directly (``uuid.UUID`` builds an
    integer and checks it, a twentieth of projecting an event)."""
    digest = bytearray(hashlib.sha1(_VERSION_NS_BYTES + "\x1f".join(parts).encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class LogStatements:
    """The append path's statements, built once with bind parameters."""

    @cached_property
    def events_after(self) -> Any:
        """The content hashes and ids of the events after id ``after``."""
        c = t.events.c
        return select(c.content_hash, c.id).where(c.id > bindparam("after"))

    @cached_property
    def head(self) -> Any:
        """The chain head: the newest event's chain hash."""
        head = t.chain_head.c
        return select(head.chain_hash).where(head.name == t.CHAIN)

    @cached_property
    def lock_head(self) -> Any:
        """The chain head, locked until the transaction ends (SQLite: its write lock does that)."""
        return self.head.with_for_update()

    @cached_property
    def lock_head_and_newest(self) -> Any:
        """:attr:`lock_head` and the newest event id: exactly on SQLite (its write lock is held),
        on PostgreSQL perhaps from before the lock was granted (the statement's snapshot), so a
        lower bound of the ids appended next."""
        c = t.events.c
        newest = select(func.coalesce(func.max(c.id), 0)).scalar_subquery()
        head = t.chain_head.c
        query = select(head.chain_hash, newest).where(head.name == t.CHAIN)
        return query.with_for_update(of=t.chain_head)

    @cached_property
    def move_head(self) -> Any:
        head = t.chain_head.c
        return (
            update(t.chain_head)
            .where(head.name == t.CHAIN)
            .values(chain_hash=bindparam("chain"), prev_hash=bindparam("prev"))
        )

    @cached_property
    def head_and_hash(self) -> Any:
        """The chain head and the id of the event with content hash ``h``, in one round trip."""
        c = t.events.c
        return select(
            self.head.scalar_subquery(),
            select(c.id)
            .where(c.event_time == bindparam("t", type_=c.event_time.type))
            .where(c.content_hash == bindparam("h"))
            .scalar_subquery(),
        )

    @cached_property
    def insert_one_event(self) -> Any:
        return t.events.insert().returning(t.events.c.id)

    @cached_property
    def append_one(self) -> Any:
        """PostgreSQL: append one event in one statement, a transaction of its own.

        It moves the chain head (``sha256(prev_hash || content_hash)``, computed by the server)
        unless the event is logged already, inserts the event linked to the old head, and answers
        ``(new id, id of the logged twin)``, one of them null. Updating the head row waits for
        its lock and then reads the head's newest version whatever the statement's snapshot, so
        concurrent appends chain in order. Two appends of one new event at once: the second
        fails on the unique event key, and its retry finds the first.
        """
        head, c = t.chain_head.c, t.events.c
        content_hash = bindparam("content_hash", type_=c.content_hash.type)
        event_time = bindparam("event_time", type_=c.event_time.type)
        logged = and_(c.event_time == event_time, c.content_hash == content_hash)
        moved = (
            update(t.chain_head)
            .where(head.name == t.CHAIN, ~exists().where(logged))
            .values(
                prev_hash=head.chain_hash,  # the old head: SET reads the row before the update
                chain_hash=func.encode(
                    func.sha256(func.convert_to(head.chain_hash + content_hash, "UTF8")), "hex"
                ),
            )
            .returning(head.chain_hash, head.prev_hash)
            .cte("moved")
        )
        computed = {
            "content_hash": content_hash,
            "event_time": event_time,
            "chain_hash": moved.c.chain_hash,
            "prev_hash": moved.c.prev_hash,
        }
        values = [
            computed[name] if name in computed else bindparam(name, type_=c[name].type)
            for name in _LOG_COLUMNS
        ]
        inserted = (
            t.events.insert()
            .from_select(list(_LOG_COLUMNS), select(*values).select_from(moved))
            .returning(c.id)
            .cte("inserted")
        )
        return select(
            select(inserted.c.id).scalar_subquery(),
            select(c.id).where(logged).scalar_subquery(),
        )


_LOG_COLUMNS = (
    "content_hash",
    "prev_hash",
    "chain_hash",
    "kind",
    "event_type",
    "event_time",
    "received_at",
    "run_id",
    "job_namespace",
    "job_name",
    "producer",
    "raw",
)
LOG = LogStatements()


def append_one(conn: Connection, event: EventHeader, received_at: datetime) -> tuple[int, bool]:
    """PostgreSQL: append one event in one statement on an autocommit connection (see
    :attr:`LogStatements.append_one`).

    The same event appended concurrently by another writer makes the statement fail on the
    unique event key; it is run once more, and then finds that writer's event.

    Returns:
        ``(event id, duplicate)``.
    """
    row = event_columns(event, received_at)  # the statement links it to the chain
    for attempt in (0, 1):
        try:
            new_id, existing = conn.execute(LOG.append_one, row).one()
            break
        except IntegrityError:
            if attempt:
                raise
    if new_id is not None:
        return int(new_id), False
    require_head(existing)  # neither appended nor found: no head row to move
    return int(existing), True


class SqliteAppend:
    """SQLite: the single-event append of :func:`append` on a DBAPI connection, its three
    statements (:class:`LogStatements`) compiled once (see :mod:`headwater.store.prepared`).

    Args:
        dialect: the engine's SQLite dialect.
    """

    def __init__(self, dialect: Any) -> None:
        self._head_and_hash = Prepared(LOG.head_and_hash, dialect)
        self._insert = Prepared(LOG.insert_one_event, dialect, _LOG_COLUMNS)
        self._move_head = Prepared(LOG.move_head, dialect)

    def __call__(self, cursor: Any, event: EventHeader, received_at: datetime) -> tuple[int, bool]:
        """Append ``event`` in the cursor's transaction (begun ``IMMEDIATE``: it holds the
        write lock); ``(event id, duplicate)``."""
        key = {"t": event.event_time, "h": event.content_hash}
        head, existing = self._head_and_hash.execute(cursor, key).fetchone()
        if existing is not None:
            return int(existing), True
        row = _log_row(event, require_head(head), received_at)
        event_id = int(self._insert.execute(cursor, row).fetchone()[0])
        self._move_head.execute(cursor, {"chain": row["chain_hash"], "prev": row["prev_hash"]})
        return event_id, False


def lock_chain(conn: Connection) -> str:
    """Lock the chain head until the transaction ends and return it (the newest chain hash)."""
    return require_head(conn.execute(LOG.lock_head).scalar())


def require_head(value: Any) -> Any:
    """``value``, read from the chain head; a missing head row is an error, never a new chain."""
    if value is None:
        msg = "the event log has no chain head: run `headwater db upgrade`"
        raise RuntimeError(msg)
    return value


def append(
    conn: Connection, events: Sequence[EventHeader], received_at: datetime
) -> list[tuple[int, bool]]:
    """Append ``events`` to the log in order, skipping duplicates, in the caller's transaction.

    It locks the chain head first, reading the newest id with it. One look-up of the event keys
    already logged, one bulk insert (:func:`headwater.store.bulk.insert_rows`: ``COPY`` on
    PostgreSQL) and one update of the head, whatever the number of events: SQLite's new rows
    are numbered after the newest id, PostgreSQL's are read back after it (one more range read
    of the primary key), as no other append inserts while the chain head is locked. A single
    event takes
    three statements on SQLite (head and look-up together, an insert returning its id, the
    head's update). On PostgreSQL a single event goes through :func:`append_one` instead.

    Returns:
        ``(event id, duplicate)`` per event, in order; a duplicate has the id of the logged event.
    """
    if len(events) == 1:  # the common single-event request
        event = events[0]
        if conn.dialect.name != "sqlite":  # SQLite: the transaction holds the file's write lock
            lock_chain(conn)
        key = {"t": event.event_time, "h": event.content_hash}
        head, existing = conn.execute(LOG.head_and_hash, key).one()
        if existing is not None:
            return [(int(existing), True)]
        row = _log_row(event, require_head(head), received_at)
        event_id = int(conn.execute(LOG.insert_one_event, row).scalar_one())
        conn.execute(LOG.move_head, {"chain": row["chain_hash"], "prev": row["prev_hash"]})
        return [(event_id, False)]
    head, newest = conn.execute(LOG.lock_head_and_newest).one()
    prev = require_head(head)
    known = _logged_ids(conn, events)
    rows: list[dict[str, Any]] = []
    fresh: set[str] = set()
    for event in events:
        if event.content_hash in known or event.content_hash in fresh:
            continue
        rows.append(_log_row(event, prev, received_at))
        fresh.add(event.content_hash)
        prev = rows[-1]["chain_hash"]
    if rows:
        # Every append holds the chain head's lock (SQLite: the file's write lock) while it
        # inserts, so no rows but these land after the newest id before the transaction ends.
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # the next ids are the log's to give
            for k, row in enumerate(rows, start=1):
                row["id"] = newest + k
        insert_rows(conn, t.events, rows)
        conn.execute(
            LOG.move_head, {"chain": rows[-1]["chain_hash"], "prev": rows[-1]["prev_hash"]}
        )
        if sqlite:
            known.update({row["content_hash"]: row["id"] for row in rows})
        else:  # PostgreSQL's sequence gave them: among the rows after the (lower bound) newest
            after = conn.execute(LOG.events_after, {"after": newest})
            known.update((content_hash, int(event_id)) for content_hash, event_id in after)
    results: list[tuple[int, bool]] = []
    seen: set[str] = set()
    for event in events:
        h = event.content_hash
        results.append((known[h], h not in fresh or h in seen))
        seen.add(h)
    return results


def _logged_ids(conn: Connection, events: Sequence[EventHeader]) -> dict[str, int]:
    """The ids of the logged events among ``events``, by content hash (looked up by event key:
    event time and content hash, see :data:`headwater.store.schema.events`)."""
    arrays = conn.dialect.name == "postgresql"
    time_key = _time_key(conn.dialect)
    pairs = ((time_key(e.event_time), e.content_hash) for e in events)
    rows = conn.execute(_events_by_key(arrays), pair_values(pairs, arrays=arrays))
    return {content_hash: int(event_id) for content_hash, event_id in rows}


@lru_cache(maxsize=2)
def _events_by_key(arrays: bool) -> Any:
    """The content hashes and ids of the logged events among the ``(event time, content
    hash)`` pairs given (:func:`headwater.store.bulk.pair_values`)."""
    c = t.events.c
    return among_pairs(select(c.content_hash, c.id), c.event_time, c.content_hash, arrays=arrays)


@lru_cache(maxsize=4)
def _time_key(dialect: Any) -> Callable[[datetime], Any]:
    """An event time as :func:`_events_by_key` compares it: on SQLite the text the column
    stores (its type's bind processor: pairs are compared in SQL as text, not bound one by
    one), on PostgreSQL the datetime itself."""
    if dialect.name != "sqlite":
        return _same
    process = t.events.c.event_time.type.dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    return process


def _same(value: datetime) -> datetime:
    return value


def _log_row(event: EventHeader, prev: str, received_at: datetime) -> dict[str, Any]:
    """The ``events`` row of ``event``, linked after the chain hash ``prev``."""
    row = event_columns(event, received_at)
    row["prev_hash"] = prev
    row["chain_hash"] = chain(prev, event.content_hash)
    return row


def event_columns(event: EventHeader, received_at: datetime) -> dict[str, Any]:
    """The ``events`` columns of ``event`` but its links in the chain."""
    return {
        "content_hash": event.content_hash,
        "kind": event.kind,
        "event_type": event.event_type,
        "event_time": event.event_time,
        "received_at": received_at,
        "run_id": event.run_id,
        "job_namespace": event.job.namespace if event.job else None,
        "job_name": event.job.name if event.job else None,
        "producer": event.producer,
        "raw": event.raw,
    }


def stored_event(row: Row[Any]) -> ValidatedEvent:
    """Rebuild the validated event from its ``events`` row (validated when it was appended)."""
    data, _ = loads(row.raw)
    return ValidatedEvent(
        kind=row.kind,
        raw=row.raw,
        data=data,
        event_time=aware(row.event_time),
        event_type=row.event_type,
        run_id=row.run_id,
        job=JobId(row.job_namespace, row.job_name) if row.job_name is not None else None,
        content_hash=row.content_hash,
        producer=row.producer,
    )


def state_wins(old: str, old_time: datetime | None, new: str, when: datetime) -> bool:
    if old in TERMINAL and new not in TERMINAL:
        return False
    if new in TERMINAL and old not in TERMINAL:
        return True
    return old_time is None or when >= old_time


def aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def opt_aware(value: datetime | None) -> datetime | None:
    return None if value is None else aware(value)


def opt_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_time(value, "$", [])
    except ValueError:
        return None


def schema_fields(facets: dict[str, Any]) -> list[dict[str, Any]]:
    schema = facets.get("schema")
    if not isinstance(schema, dict):
        return []
    out = []
    for f in schema.get("fields") or []:
        if isinstance(f, dict) and f.get("name"):
            out.append(
                {
                    "name": str(f["name"]),
                    "type": f.get("type"),
                    "description": f.get("description"),
                    "fields": f.get("fields") or [],
                }
            )
    return out


def dataset_columns(facets: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    fields = schema_fields(facets)
    if fields:
        values["fields"] = fields
    if isinstance(facets.get("documentation"), dict):
        values["description"] = facets["documentation"].get("description")
    if isinstance(facets.get("dataSource"), dict) and facets["dataSource"].get("name"):
        values["source_name"] = facets["dataSource"]["name"]
    if isinstance(facets.get("datasetType"), dict) and facets["datasetType"].get("datasetType"):
        values["type"] = str(facets["datasetType"]["datasetType"])[:16]
    lifecycle = (facets.get("lifecycleStateChange") or {}).get("lifecycleStateChange")
    if lifecycle:
        values["lifecycle_state"] = lifecycle
        values["is_deleted"] = lifecycle == "DROP"
    return values


def job_columns(facets: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if isinstance(facets.get("documentation"), dict):
        values["description"] = facets["documentation"].get("description")
    if isinstance(facets.get("sourceCodeLocation"), dict):
        values["location"] = facets["sourceCodeLocation"].get("url")
    if isinstance(facets.get("jobType"), dict) and facets["jobType"].get("processingType"):
        values["type"] = str(facets["jobType"]["processingType"])[:16]
    return values


__all__ = ["GENESIS", "append", "append_one", "chain", "lock_chain", "stored_event"]
