"""Key the event log by event time and content hash instead of the content hash alone.

An event is still logged once: the same content has the same ``eventTime``, so the new unique
index on ``(event_time, content_hash)`` refuses exactly what the unique content hash refused.
Event times mostly grow, so appends insert near the new index's end, where the content hash's
random keys had each event write a page of their index (a batch append's commit wrote hundreds
of pages at 50,000 events). The new index also serves reads by event time, so ``ix_events_time``
goes.

One event is not recognized as logged by this key: one logged before 2026-12-03 with an offset
without a colon (``+05``, ``+0530``), whose ``event_time`` was read as UTC then; sent again, it
is logged a second time, under its right time.

On SQLite a unique column constraint cannot be dropped: the table is rebuilt (copied and
renamed), with foreign keys off (:func:`headwater.store.migrate.upgrade`), which takes time and
disk space in proportion to the log.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The log's columns as of this revision: a migration keeps its own copy, as the live schema
# (`headwater.store.schema`, `headwater.store.ingest`) changes with later revisions.
_COLUMNS = (
    "id",
    "content_hash",
    "chain_hash",
    "prev_hash",
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


def _events(name: str, *, unique_hash: bool) -> sa.Table:
    """The ``events`` table as of this revision (the hash unique as before it, or not)."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("content_hash", sa.String(64), nullable=False, unique=unique_hash),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("event_type", sa.String(16)),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Text),
        sa.Column("job_namespace", sa.Text),
        sa.Column("job_name", sa.Text),
        sa.Column("producer", sa.Text),
        sa.Column("raw", sa.LargeBinary, nullable=False),
    )


def _rebuild_sqlite(*, unique_hash: bool) -> None:
    """Copy ``events`` into a table of the new shape, drop it, and rename the copy."""
    copy = _events("_events_rebuilt", unique_hash=unique_hash)
    copy.create(op.get_bind())
    old = sa.table("events", *(sa.column(name) for name in _COLUMNS))
    op.execute(sa.insert(copy).from_select(list(_COLUMNS), sa.select(*old.c)))
    op.execute("DROP TABLE events")
    op.execute("ALTER TABLE _events_rebuilt RENAME TO events")


def upgrade() -> None:
    """Drop the unique content hash and ``ix_events_time``; create ``ux_events_key``."""
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(unique_hash=False)  # drops ix_events_time with the old table
    else:
        for unique in sa.inspect(op.get_bind()).get_unique_constraints("events"):
            if unique["column_names"] == ["content_hash"] and unique["name"]:
                op.drop_constraint(unique["name"], "events", type_="unique")
        op.drop_index("ix_events_time", table_name="events")
    op.create_index("ux_events_key", "events", ["event_time", "content_hash"], unique=True)


def downgrade() -> None:
    """The unique content hash and ``ix_events_time`` again."""
    op.drop_index("ux_events_key", table_name="events")
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_sqlite(unique_hash=True)
    else:
        op.create_unique_constraint("events_content_hash_key", "events", ["content_hash"])
    op.create_index("ix_events_time", "events", ["event_time"])
