"""Baseline: the schema of Headwater 0.1 (created from metadata on an empty database).

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing: a database at no revision gets ``metadata.create_all`` instead."""


def downgrade() -> None:
    """Nothing to undo."""
