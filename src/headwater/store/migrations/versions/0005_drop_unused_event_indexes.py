"""Drop the event log's run and job indexes: no query reads the log by run or by job.

Runs and jobs are read from the projected tables; the log is read by id (the projector, the
audit chain, exports) and by event time (``/api/v1/events/lineage``). Each of the two indexes
took a random-key B-tree insert per appended event, which at tens of thousands of events made a
batch append's commit write a page of each index per event.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Drop ``ix_events_run`` and ``ix_events_job``."""
    op.drop_index("ix_events_run", table_name="events")
    op.drop_index("ix_events_job", table_name="events")


def downgrade() -> None:
    """Create them again."""
    op.create_index("ix_events_run", "events", ["run_id"])
    op.create_index("ix_events_job", "events", ["job_namespace", "job_name"])
