"""Deferred projection: a watermark of projected events and a table of events that failed to project.

Every event a database at revision 0002 holds was projected when it was ingested, so the
watermark starts at the newest event id.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``projection`` (set to the newest event) and ``projection_errors``."""
    projection = op.create_table(
        "projection",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "projection_errors",
        sa.Column(
            "event_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("events.id"),
            primary_key=True,
        ),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    newest = op.get_bind().execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM events")).scalar()
    op.bulk_insert(projection, [{"name": "graph", "event_id": int(newest or 0)}])


def downgrade() -> None:
    """Drop both (a database with unprojected events must be caught up first)."""
    op.drop_table("projection_errors")
    op.drop_table("projection")
