"""The hash chain's head in a row of its own (``chain_head``), set to the newest event's hashes.

Writers now serialize on that row's lock instead of an advisory lock, so every server worker
must run this revision or a later one: stop older workers before upgrading.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    """Create ``chain_head`` holding the newest event's chain and previous hash."""
    head = op.create_table(
        "chain_head",
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("chain_hash", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
    )
    newest = (
        op.get_bind()
        .execute(sa.text("SELECT chain_hash, prev_hash FROM events ORDER BY id DESC LIMIT 1"))
        .first()
    )
    chain_hash, prev_hash = (newest[0], newest[1]) if newest else (GENESIS, GENESIS)
    op.bulk_insert(head, [{"name": "events", "chain_hash": chain_hash, "prev_hash": prev_hash}])


def downgrade() -> None:
    """Drop it (older revisions read the head from the newest event)."""
    op.drop_table("chain_head")
