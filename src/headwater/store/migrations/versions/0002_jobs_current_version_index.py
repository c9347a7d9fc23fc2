"""Index jobs by current version: lineage traversal joins edges to the jobs whose current version they are.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``ix_jobs_current_version``."""
    op.create_index("ix_jobs_current_version", "jobs", ["current_version_id"])


def downgrade() -> None:
    """Drop it."""
    op.drop_index("ix_jobs_current_version", table_name="jobs")
