"""Edit the event log after the fact, as someone with write access to the database could."""

from __future__ import annotations

from sqlalchemy import Engine, select, update

from headwater.store import schema as t


def edit_body(engine: Engine, event_id: int, old: str, new: str) -> None:
    """Replace ``old`` with ``new`` in one stored event's bytes, leaving its hashes as they were.

    The body is read and written through the log's column type, so it is stored as the store
    stores bodies (compressed on SQLite) and only its content differs.
    """
    with engine.begin() as conn:
        where = t.events.c.id == event_id
        body = conn.execute(select(t.events.c.raw).where(where)).scalar_one()
        assert old.encode() in body
        conn.execute(
            update(t.events).where(where).values(raw=body.replace(old.encode(), new.encode()))
        )
