"""Table definitions (SQLAlchemy Core), shared by SQLite and PostgreSQL.

The raw event log (``events``, with its ``chain_head``) is the source of truth; every other
table is a normalized projection of it, maintained by the projector behind a watermark. On
SQLite the log's two tables live in a file of their own (:func:`headwater.store.engine.sqlite_log_path`),
so nothing refers to them by foreign key.
JSON columns are JSONB on PostgreSQL (``with_variant``) and JSON text on SQLite.
Times are stored as timezone-aware UTC datetimes.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    literal_column,
)
from sqlalchemy.dialects.postgresql import JSONB

from headwater.store.eventbody import EventBody
from headwater.store.sqlitetime import SqliteTime

metadata = MetaData()
# The Alembic revision these tables are (the newest under ``migrations/versions``; a test keeps
# the two equal): a database stamped with it needs no migration, which opening a store checks
# with one query, without loading Alembic.
REVISION = "0008"

Json = JSON().with_variant(JSONB(), "postgresql")
Id = BigInteger().with_variant(
    Integer(), "sqlite"
)  # SQLite autoincrements INTEGER PRIMARY KEY only
Time = DateTime(timezone=True).with_variant(SqliteTime(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("content_hash", String(64), nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("event_type", String(16)),
    Column("event_time", Time, nullable=False),
    Column("received_at", Time, nullable=False),
    Column("run_id", Text),
    Column("job_namespace", Text),
    Column("job_name", Text),
    Column("producer", Text),
    Column("raw", EventBody(), nullable=False),  # zstd-compressed on SQLite
    # The event key: an event is logged once (idempotency), found by its time and content hash.
    # Event times mostly grow, so appends insert near the index's end and a batch's commit writes
    # a few of its pages; a content-hash-first index (random keys) took a page per event. It also
    # serves reads by event time (/api/v1/events/lineage). Nothing reads the log by run or job.
    Index("ux_events_key", "event_time", "content_hash", unique=True),
)
# An event whose body retention emptied (its row stays, for the hash chain). Written with a
# literal 0: a partial index serves only a query whose condition reads as its own.
EMPTIED = func.length(events.c.raw) == literal_column("0")
# Those events, by time (revision 0007): counting the events with a body is a count of the key
# index less a count of this one, and reads no body.
Index("ix_events_pruned", events.c.event_time, postgresql_where=EMPTIED, sqlite_where=EMPTIED)

# The head of the event log's hash chain: the newest event's ``chain_hash`` and ``prev_hash``
# (all zeros for an empty log), in one row that every append updates. Writers serialize on its
# row lock, and a single event is appended on PostgreSQL in one statement that takes the lock,
# computes the next hash and inserts (``headwater.store.ingest``). ``headwater audit verify``
# checks the log ends where the head says, so dropping the newest events is detected too.
chain_head = Table(
    "chain_head",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("chain_hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
)
CHAIN = "events"  # ``chain_head``'s one row
GENESIS = "0" * 64  # the chain head of an empty log

namespaces = Table(
    "namespaces",
    metadata,
    Column("name", Text, primary_key=True),
    Column("created_at", Time, nullable=False),
    Column("updated_at", Time, nullable=False),
    Column("owner_name", Text),
    Column("description", Text),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("namespace", Text, ForeignKey("namespaces.name"), nullable=False),
    Column("name", Text, nullable=False),
    Column("type", String(16), nullable=False, default="DB_TABLE"),
    Column("source_name", Text),
    Column("description", Text),
    Column("created_at", Time, nullable=False),
    Column("updated_at", Time, nullable=False),
    Column("current_version", String(64)),
    Column("fields", Json, nullable=False, default=list),
    Column("facets", Json, nullable=False, default=dict),
    Column("lifecycle_state", String(16)),
    Column("is_deleted", Boolean, nullable=False, default=False),
    UniqueConstraint("namespace", "name", name="uq_datasets_ns_name"),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("dataset_id", Id, ForeignKey("datasets.id"), nullable=False),
    Column("version", String(64), nullable=False),
    Column("version_facet", Text),
    Column("run_id", Text),
    Column("created_at", Time, nullable=False),
    Column("fields", Json, nullable=False, default=list),
    Column("facets", Json, nullable=False, default=dict),
    Column("lifecycle_state", String(16)),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_versions"),
    Index("ix_dataset_versions_created", "dataset_id", "created_at"),
)

tags = Table(
    "tags",
    metadata,
    Column("name", Text, primary_key=True),
    Column("description", Text),
    Column("created_at", Time, nullable=False),
)

dataset_tags = Table(
    "dataset_tags",
    metadata,
    Column("dataset_id", Id, ForeignKey("datasets.id"), primary_key=True),
    Column("field", Text, primary_key=True),  # '' tags the dataset itself
    Column("tag", Text, ForeignKey("tags.name"), primary_key=True),
    Column("tagged_at", Time, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("namespace", Text, ForeignKey("namespaces.name"), nullable=False),
    Column("name", Text, nullable=False),
    Column("type", String(16), nullable=False, default="BATCH"),
    Column("description", Text),
    Column("location", Text),
    Column("parent_job_name", Text),
    Column("created_at", Time, nullable=False),
    Column("updated_at", Time, nullable=False),
    Column("current_version_id", Id),
    Column("current_version_time", Time),
    Column("latest_run_id", Text),
    Column("facets", Json, nullable=False, default=dict),
    UniqueConstraint("namespace", "name", name="uq_jobs_ns_name"),
    Index("ix_jobs_current_version", "current_version_id"),  # revision 0002
)

job_versions = Table(
    "job_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_id", Id, ForeignKey("jobs.id"), nullable=False),
    Column("version", String(64), nullable=False),
    Column("created_at", Time, nullable=False),
    Column("sql", Text),
    Column("location", Text),
    Column("facets", Json, nullable=False, default=dict),
    UniqueConstraint("job_id", "version", name="uq_job_versions"),
)

job_version_io = Table(
    "job_version_io",
    metadata,
    Column("job_version_id", Id, ForeignKey("job_versions.id"), primary_key=True),
    Column("dataset_id", Id, ForeignKey("datasets.id"), primary_key=True),
    Column("direction", String(3), primary_key=True),  # 'in' | 'out'
    Index("ix_job_version_io_dataset", "dataset_id", "direction"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("job_id", Id, ForeignKey("jobs.id"), nullable=False),
    Column("job_version_id", Id),
    Column("state", String(16), nullable=False),
    Column("state_time", Time),
    Column("created_at", Time, nullable=False),
    Column("updated_at", Time, nullable=False),
    Column("started_at", Time),
    Column("ended_at", Time),
    Column("nominal_start_time", Time),
    Column("nominal_end_time", Time),
    Column("parent_run_id", Text),
    Column("sql", Text),
    Index("ix_runs_job", "job_id", "created_at"),
    Index("ix_runs_parent", "parent_run_id"),
)

run_facets = Table(
    "run_facets",
    metadata,
    Column("event_id", Id, primary_key=True),  # an event of the log
    Column("run_id", Text, nullable=False),
    Column("event_time", Time, nullable=False),
    Column("run_facets", Json, nullable=False, default=dict),
    Column("job_facets", Json, nullable=False, default=dict),
    Index("ix_run_facets_run", "run_id", "event_time"),
)

run_io = Table(
    "run_io",
    metadata,
    Column("run_id", Text, primary_key=True),
    Column("dataset_id", Id, ForeignKey("datasets.id"), primary_key=True),
    Column("direction", String(3), primary_key=True),
    Column("dataset_version", String(64)),
    Column("facets", Json, nullable=False, default=dict),
    Index("ix_run_io_dataset", "dataset_id", "direction"),
)

column_edges = Table(
    "column_edges",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("job_version_id", Id, ForeignKey("job_versions.id"), nullable=False),
    Column("out_dataset_id", Id, ForeignKey("datasets.id"), nullable=False),
    Column("out_field", Text, nullable=False),  # '' = a dataset-level dependency
    Column("in_dataset_id", Id, ForeignKey("datasets.id"), nullable=False),
    Column("in_field", Text, nullable=False),
    Column("transformations", Json, nullable=False, default=list),
    Column("description", Text),
    Column("type", String(16)),
    Column("subtype", String(32)),
    UniqueConstraint(
        "job_version_id",
        "out_dataset_id",
        "out_field",
        "in_dataset_id",
        "in_field",
        name="uq_column_edges",
    ),
    Index("ix_column_edges_out", "out_dataset_id", "out_field"),
    Index("ix_column_edges_in", "in_dataset_id", "in_field"),
)

quality_assertions = Table(
    "quality_assertions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("event_id", Id, nullable=False),  # an event of the log
    Column("run_id", Text),
    Column("dataset_id", Id, ForeignKey("datasets.id"), nullable=False),
    Column("assertion", Text, nullable=False),
    Column("column_name", Text),
    Column("success", Boolean, nullable=False),
    Column("severity", Text),
    Column("event_time", Time, nullable=False),
    Index("ix_quality_dataset", "dataset_id", "event_time"),
)

# The projection watermark: events up to ``event_id`` are projected into the tables above.
# Ingestion appends to ``events`` only; the projector applies accepted events in id order
# (see ``headwater.store.sql.SqlStore.catch_up``).
projection = Table(
    "projection",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("event_id", BigInteger, nullable=False),
)

# Accepted events the projector could not apply (the database refused a value); they stay in
# the log (export, audit) and are skipped by the tables.
projection_errors = Table(
    "projection_errors",
    metadata,
    Column("event_id", Id, primary_key=True),  # an event of the log
    Column("error", Text, nullable=False),
    Column("at", Time, nullable=False),
)
