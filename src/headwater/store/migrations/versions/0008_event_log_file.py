"""SQLite: the event log in a file of its own; no foreign keys to the log on either backend.

On SQLite every write transaction holds its file's one write lock, and appends waited for the
projection's writes (74 us an event, held for a batch at a time): with the log in its own file
(``headwater.events.db`` beside ``headwater.db``), appends write only there, and the store's
connections attach it read-only. Before this revision runs, :func:`headwater.store.migrate.upgrade`
has copied ``events`` and ``chain_head`` into the log's file, in a transaction of that file
only (one over both files is atomic in each, not across them); this revision checks the copy
and drops the store file's tables, in a transaction of the store's file only. The copy takes time
and disk space in proportion to the log (the store's file keeps the old pages as free space,
which `headwater db backup` leaves out and `VACUUM` returns).

``run_facets``, ``quality_assertions`` and ``projection_errors`` referred to ``events.id``:
SQLite's foreign keys cannot refer to another file, so the references go, on PostgreSQL too (one
schema for both). The projector writes those rows from the events it reads, in log order.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_REFERRING = ("run_facets", "quality_assertions", "projection_errors")
_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_LOG = "log"  # the log's file, attached under this name while migrating


def _fk_name(table: str) -> str:
    return f"fk_{table}_event_id_events"


def _events(schema: str | None) -> sa.Table:
    """The ``events`` table as of this revision (a migration keeps its own copy)."""
    table = sa.Table(
        "events",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
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
        schema=schema,
    )
    sa.Index("ux_events_key", table.c.event_time, table.c.content_hash, unique=True)
    emptied = sa.text("length(raw) = 0")
    sa.Index("ix_events_pruned", table.c.event_time, sqlite_where=emptied)
    return table


def _chain_head(schema: str | None) -> sa.Table:
    return sa.Table(
        "chain_head",
        sa.MetaData(),
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        schema=schema,
    )


def _count(table: sa.Table) -> tuple[int, int]:
    row = op.get_bind().execute(sa.select(sa.func.count(), sa.func.max(table.c.id))).one()
    return int(row[0]), int(row[1] or 0)


def upgrade() -> None:
    """Drop the references to ``events``; on SQLite, its tables in the store's file (checked
    against the copy in the log's file first)."""
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        here, copied = _count(_events("main")), _count(_events(_LOG))
        if here != copied:
            msg = (
                f"the event log's copy holds {copied[0]} events (newest {copied[1]}), the store "
                f"{here[0]} (newest {here[1]}): upgrade through headwater.store.migrate.upgrade, "
                "which copies the log into its file first"
            )
            raise RuntimeError(msg)
        for table in _REFERRING:
            with op.batch_alter_table(table, recreate="always", naming_convention=_NAMES) as b:
                b.drop_constraint(_fk_name(table), type_="foreignkey")
        op.execute("DROP TABLE main.events")  # its indexes go with it
        op.execute("DROP TABLE main.chain_head")
        return
    for table in _REFERRING:
        for fk in sa.inspect(conn).get_foreign_keys(table):
            if fk["referred_table"] == "events" and fk["name"]:
                op.drop_constraint(fk["name"], table, type_="foreignkey")


def downgrade() -> None:
    """The log back in the store's file (SQLite; the log's file is left as it is, and copied
    over again by the next upgrade) and the references to it."""
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for make in (_events, _chain_head):
            here, there = make("main"), make(_LOG)
            here.create(conn)
            names = [c.name for c in there.c]
            op.execute(sa.insert(here).from_select(names, sa.select(*there.c)))
    for table in _REFERRING:
        if conn.dialect.name == "sqlite":
            with op.batch_alter_table(table, recreate="always") as b:
                b.create_foreign_key(_fk_name(table), "events", ["event_id"], ["id"])
        else:
            op.create_foreign_key(_fk_name(table), table, "events", ["event_id"], ["id"])
