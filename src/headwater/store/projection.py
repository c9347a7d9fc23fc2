"""Project a batch of logged events into the lineage tables, set-based.

Applying events one at a time costs about 30 statements each (a look-up or an upsert per
namespace, dataset, job, run, version, input and output), and each statement is a round trip:
on PostgreSQL that kept projection under 100 events/s. :func:`project` applies a whole batch
with a fixed number of statements instead:

1. **Scan** the batch for every namespace, dataset, job and run it touches, and create the
   missing namespaces, datasets and jobs (one multi-row insert each) so that every id is known.
2. **Load** the rows the batch can change (datasets, jobs, runs, their inputs and outputs, the
   dataset versions its events name), one ``IN`` query per table.
3. **Apply** each event, in log order, to those rows in memory, with exactly the rules a
   one-event-at-a-time projection follows (see :mod:`headwater.store.ingest`): the result does
   not depend on how the log is cut into batches (tested).
4. **Write** what changed: one ``executemany`` per table and kind of change.

Job versions are created during step 3 but their ids are only known after step 4 inserted
them, so the rows refer to a job version by its key, ``(job id, version)``, resolved on write.
Everything runs inside the caller's transaction, which also advances the projection watermark:
a batch is applied entirely or not at all.

:func:`prepare` splits a batch in two, so that SQLite's write lock (one per file, which every
append needs too) is held only to write: steps 1-3 run on a read snapshot, the missing
namespaces, datasets and jobs *planned* with the ids the table would give them next, and
:meth:`PreparedBatch.write` then runs step 4 (those rows inserted first) in a write transaction,
once the caller has checked that nothing projected meanwhile (:meth:`PreparedBatch.still_valid`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, update

from headwater.model.events import ValidatedEvent
from headwater.store import schema as t
from headwater.store.bulk import (
    among,
    among_pairs,
    execute_many,
    insert_later,
    insert_rows,
    many,
    newest_id,
    pair_values,
)
from headwater.store.ingest import (
    RUN_STATES,
    TERMINAL,
    InsertFn,
    aware,
    dataset_columns,
    job_columns,
    opt_aware,
    opt_time,
    schema_fields,
    state_wins,
    version_uuid,
)

Row = dict[str, Any]
DsKey = tuple[str, str]  # (namespace, name)
JvKey = tuple[int, str]  # (job id, version): a job version before its id is known
JvRef = int | JvKey | None  # a job version's id (already stored) or key (created in this batch)
_CHUNK = 500  # bound on IN-list sizes

_DATASET_MUTABLE = (
    "type",
    "source_name",
    "description",
    "updated_at",
    "current_version",
    "fields",
    "facets",
    "lifecycle_state",
    "is_deleted",
)
_JOB_MUTABLE = (
    "type",
    "description",
    "location",
    "updated_at",
    "current_version_id",
    "current_version_time",
    "latest_run_id",
    "facets",
)
_RUN_COLUMNS = (
    "run_id",
    "job_id",
    "job_version_id",
    "state",
    "state_time",
    "created_at",
    "updated_at",
    "started_at",
    "ended_at",
    "nominal_start_time",
    "nominal_end_time",
    "parent_run_id",
    "sql",
)
_TIMES = frozenset(
    {
        "created_at",
        "updated_at",
        "state_time",
        "started_at",
        "ended_at",
        "nominal_start_time",
        "nominal_end_time",
        "current_version_time",
    }
)


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _row(row: Any) -> Row:
    """A result row as a plain dict, with times made timezone-aware (SQLite returns naive)."""
    out = dict(row._mapping)
    for key in _TIMES & out.keys():
        out[key] = opt_aware(out[key])
    return out


@dataclass
class _Item:
    """One event of the batch and what the scan derived from it."""

    event_id: int
    event: ValidatedEvent
    outputs: list[dict[str, Any]]  # with column lineage derived from a Spark plan when needed
    run_facets: dict[str, Any]
    job_facets: dict[str, Any]


class Writes:
    """The statements of the write step, built once per dialect (see :func:`writes`)."""

    def __init__(self, insert: InsertFn) -> None:
        self.insert = insert

    @cached_property
    def insert_namespaces(self) -> Any:
        return self.insert(t.namespaces).on_conflict_do_nothing(index_elements=["name"])

    @cached_property
    def insert_datasets(self) -> Any:
        return self.insert(t.datasets).on_conflict_do_nothing(index_elements=["namespace", "name"])

    @cached_property
    def insert_jobs(self) -> Any:
        return self.insert(t.jobs).on_conflict_do_nothing(index_elements=["namespace", "name"])

    @cached_property
    def update_datasets(self) -> Any:
        return (
            update(t.datasets)
            .where(t.datasets.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in _DATASET_MUTABLE})
        )

    @cached_property
    def update_jobs(self) -> Any:
        return (
            update(t.jobs)
            .where(t.jobs.c.id == bindparam("b_id"))
            .values({c: bindparam(f"b_{c}") for c in _JOB_MUTABLE})
        )

    @cached_property
    def insert_job_version_io(self) -> Any:
        return self.insert(t.job_version_io).on_conflict_do_nothing()

    @cached_property
    def update_dataset_versions(self) -> Any:
        c = t.dataset_versions.c
        return (
            update(t.dataset_versions)
            .where(and_(c.dataset_id == bindparam("b_d"), c.version == bindparam("b_v")))
            .values(
                facets=bindparam("b_facets"),
                fields=bindparam("b_fields"),
                lifecycle_state=bindparam("b_lifecycle_state"),
            )
        )

    @cached_property
    def update_runs(self) -> Any:
        return (
            update(t.runs)
            .where(t.runs.c.run_id == bindparam("b_run_id"))
            .values({c: bindparam(f"b_{c}") for c in _RUN_COLUMNS if c != "run_id"})
        )

    @cached_property
    def upsert_run_io(self) -> Any:
        stmt = self.insert(t.run_io)
        return stmt.on_conflict_do_update(
            index_elements=["run_id", "dataset_id", "direction"],
            set_={
                "dataset_version": stmt.excluded.dataset_version,
                "facets": stmt.excluded.facets,
            },
        )

    @cached_property
    def insert_column_edges(self) -> Any:
        return self.insert(t.column_edges).on_conflict_do_nothing(
            index_elements=[
                "job_version_id",
                "out_dataset_id",
                "out_field",
                "in_dataset_id",
                "in_field",
            ]
        )


class _Loads:
    """The load step's queries, built once per kind of dialect (each built per batch cost more
    than it ran on small batches); lists (``keys``, ``ids``) are one parameter each
    (:func:`headwater.store.bulk.among`), and so are lists of pairs
    (:func:`headwater.store.bulk.among_pairs`).

    Args:
        arrays: PostgreSQL's ``= ANY(array)`` rather than expanding ``IN`` lists.
    """

    def __init__(self, arrays: bool) -> None:
        self.arrays = arrays

    def _in(self, column: Any, name: str) -> Any:
        return among(column, name, arrays=self.arrays)

    @cached_property
    def namespaces(self) -> Any:
        return select(t.namespaces.c.name).where(self._in(t.namespaces.c.name, "keys"))

    @lru_cache(maxsize=2)  # noqa: B019 (one instance, two tables)
    def by_name(self, table: Any) -> Any:
        return select(table).where(
            and_(table.c.namespace == bindparam("ns"), self._in(table.c.name, "keys"))
        )

    @cached_property
    def runs(self) -> Any:
        jv = t.job_versions
        return (
            select(t.runs, jv.c.version.label("jv_version"))
            .join(jv, jv.c.id == t.runs.c.job_version_id, isouter=True)
            .where(self._in(t.runs.c.run_id, "keys"))
        )

    @cached_property
    def run_created(self) -> Any:
        return select(t.runs.c.run_id, t.runs.c.created_at).where(self._in(t.runs.c.run_id, "keys"))

    @cached_property
    def run_io(self) -> Any:
        io, ds = t.run_io, t.datasets
        return (
            select(io, ds.c.namespace, ds.c.name)
            .join(ds, ds.c.id == io.c.dataset_id)
            .where(self._in(io.c.run_id, "keys"))
        )

    @cached_property
    def dataset_versions(self) -> Any:
        dv = t.dataset_versions
        return among_pairs(select(dv), dv.c.dataset_id, dv.c.version, arrays=self.arrays)

    @cached_property
    def top_versions(self) -> Any:
        """Each dataset's newest version (by creation, then id)."""
        dv = t.dataset_versions
        ranked = (
            select(
                dv.c.dataset_id,
                dv.c.version,
                dv.c.created_at,
                dv.c.id,
                func.row_number()
                .over(
                    partition_by=dv.c.dataset_id, order_by=(dv.c.created_at.desc(), dv.c.id.desc())
                )
                .label("rn"),
            )
            .where(self._in(dv.c.dataset_id, "ids"))
            .subquery()
        )
        return select(ranked).where(ranked.c.rn == 1)

    @cached_property
    def job_version_ids(self) -> Any:
        jv = t.job_versions
        query = select(jv.c.id, jv.c.job_id, jv.c.version)
        return among_pairs(query, jv.c.job_id, jv.c.version, arrays=self.arrays)


@lru_cache(maxsize=2)
def _loads(arrays: bool) -> _Loads:
    return _Loads(arrays)


@lru_cache(maxsize=4)
def writes(insert: InsertFn) -> Writes:
    """The write step's statements for a dialect's ``insert`` (built once, then shared)."""
    return Writes(insert)


def project(
    conn: Connection, insert: InsertFn, batch: Sequence[tuple[int, ValidatedEvent]]
) -> None:
    """Apply logged events (``(event id, event)``, in log order) to the tables.

    Args:
        conn: a connection inside the caller's transaction.
        insert: the dialect's ``insert`` (``postgresql.insert`` or ``sqlite.insert``).
        batch: the events, in log order.
    """
    if batch:
        _Batch(conn, writes(insert), batch).run()


class PreparedBatch:
    """A batch's projection computed on a read snapshot, to be written later (:func:`prepare`)."""

    def __init__(self, batch: _Batch) -> None:
        self._batch = batch

    def still_valid(self, conn: Connection) -> bool:
        """Whether the planned ids are still the next ones in ``conn``'s transaction (nothing
        inserted datasets or jobs since the snapshot; the caller checks the watermark too)."""
        return all(newest_id(conn, table) == base for table, base in self._batch.id_bases.items())

    def write(self, conn: Connection) -> None:
        """Write the batch (step 4, the planned rows first) in ``conn``'s write transaction:
        only the statements run there, their parameters were built by :func:`prepare`."""
        for run in self._batch.recorded or ():
            run(conn)


def prepare(
    conn: Connection, insert: InsertFn, batch: Sequence[tuple[int, ValidatedEvent]]
) -> PreparedBatch:
    """Steps 1-3 of :func:`project` on ``conn`` (a read transaction), nothing written.

    Args:
        conn: a connection inside a read transaction: the snapshot the batch is computed on.
        insert: the dialect's ``insert``.
        batch: the events, in log order.

    Returns:
        The batch, to :meth:`PreparedBatch.write` in a write transaction that still sees the same
        projected tables (same watermark, :meth:`PreparedBatch.still_valid`).

    Raises:
        ValueError: not SQLite, whose new rows take the table's newest id plus one (so planned
            ids are the ones it would give); PostgreSQL's sequences would not know them.
    """
    if conn.dialect.name != "sqlite":
        msg = "prepare plans ids as SQLite gives them; project under the lock elsewhere"
        raise ValueError(msg)
    b = _Batch(conn, writes(insert), batch, plan=True)
    b.prepare()
    b.recorded = []  # step 4 without the lock: each write's parameters, run by `write`
    b.write()
    return PreparedBatch(b)


def _as_inserted(table: Any, values: Row) -> Row:
    """The row ``table`` holds after inserting ``values``: the columns' scalar defaults (and
    NULL) for the columns not given."""
    row: Row = {}
    for c in table.c:
        if c.name in values:
            row[c.name] = values[c.name]
        else:
            default = c.default
            row[c.name] = default.arg if default is not None and default.is_scalar else None
    return row


class _Batch:
    """The rows one batch can change, loaded, changed in memory in log order, written back."""

    def __init__(
        self,
        conn: Connection,
        w: Writes,
        batch: Sequence[tuple[int, ValidatedEvent]],
        *,
        plan: bool = False,
    ) -> None:
        self.conn = conn
        self.plan = plan  # missing entities planned (ids assigned), inserted by :meth:`write`
        # (table, rows, statement: None to insert them as new rows), in order
        self.planned: list[tuple[Any, list[Row], Any]] = []
        self.id_bases: dict[Any, int] = {}  # table -> the newest id when its rows were planned
        # when a list: writes are recorded there (ready to run on a connection), not run
        self.recorded: list[Callable[[Connection], None]] | None = None
        self.w = w
        self.loads = _loads(conn.dialect.name == "postgresql")
        self.items = [_item(event_id, event) for event_id, event in batch]
        self.now = datetime.now(UTC)
        self.datasets: dict[DsKey, Row] = {}
        self.dataset_keys: dict[int, DsKey] = {}  # id -> (namespace, name), also outside the batch
        self.jobs: dict[DsKey, Row] = {}
        self.jobs_by_id: dict[int, Row] = {}
        self.runs: dict[str, Row] = {}
        self.run_jv_version: dict[str, str | None] = {}  # run -> version string of its job version
        self.new_runs: set[str] = set()
        self.other_run_created: dict[str, datetime] = {}  # latest runs of jobs, outside the batch
        self.run_io: dict[str, dict[tuple[int, str], Row]] = {}
        self.dataset_versions: dict[tuple[int, str], Row] = {}
        self.new_dataset_versions: list[tuple[int, str]] = []
        self.top_version: dict[int, tuple[datetime, int, str]] = {}  # current version per dataset
        self.job_versions: dict[JvKey, Row] = {}  # created in this batch (unless they exist)
        self.job_version_io: dict[tuple[JvKey, int, str], None] = {}
        self.column_edges: dict[tuple[JvKey, int, str, int, str], Row] = {}
        self.run_facets: list[Row] = []
        self.assertions: list[Row] = []
        self.dirty_datasets: set[DsKey] = set()
        self.dirty_jobs: set[DsKey] = set()
        self.dirty_runs: set[str] = set()
        self.dirty_run_io: dict[tuple[str, int, str], None] = {}
        self.dirty_dataset_versions: set[tuple[int, str]] = set()
        self._seq = 0  # orders dataset versions created here after every stored one

    def run(self) -> None:
        self.prepare()
        self.write()

    def prepare(self) -> None:
        """Steps 1-3: create (or plan) what is missing, load, apply."""
        self._create_entities()
        self._load()
        for item in self.items:
            self._apply(item)

    def write(self) -> None:
        """Step 4, after inserting what :meth:`prepare` planned."""
        for table, rows, statement in self.planned:
            if statement is None:
                self._insert_new(table, rows)
            else:
                self._many(statement, rows)
        self._write()

    # -- 1. scan: create what is missing ------------------------------------------------------
    def _create_entities(self) -> None:
        namespaces: dict[str, datetime] = {}
        datasets: dict[DsKey, datetime] = {}
        jobs: dict[DsKey, datetime] = {}

        def dataset(ns: str, name: str, when: datetime) -> None:
            namespaces.setdefault(ns, when)
            datasets.setdefault((ns, name), when)

        for item in self.items:
            event, when = item.event, item.event.event_time
            if event.kind == "dataset":
                ds = event.data["dataset"]
                dataset(ds["namespace"], ds["name"], when)
                continue
            job = event.data["job"]
            namespaces.setdefault(job["namespace"], when)
            jobs.setdefault((job["namespace"], job["name"]), when)
            for ds in (*event.inputs, *event.outputs):
                dataset(ds["namespace"], ds["name"], when)
            for inp in _lineage_inputs(item.outputs):
                dataset(inp["namespace"], inp["name"], self.now)
        self._insert_missing_namespaces(namespaces)
        self._insert_missing(
            t.datasets,
            self.w.insert_datasets,
            datasets,
            lambda when: {
                "type": "DB_TABLE",
                "created_at": when,
                "updated_at": when,
                "fields": [],
                "facets": {},
            },
            self.datasets,
        )
        self._insert_missing(
            t.jobs,
            self.w.insert_jobs,
            jobs,
            lambda when: {
                "type": "BATCH",
                "created_at": when,
                "updated_at": when,
                "facets": {},
            },
            self.jobs,
        )
        for key, row in self.datasets.items():
            self.dataset_keys[row["id"]] = key
        self.jobs_by_id = {row["id"]: row for row in self.jobs.values()}

    def _insert_missing_namespaces(self, wanted: dict[str, datetime]) -> None:
        names = list(wanted)
        found: set[str] = set()
        for chunk in _chunks(names):
            found.update(self.conn.execute(self.loads.namespaces, {"keys": chunk}).scalars().all())
        rows = [
            {"name": n, "created_at": when, "updated_at": when}
            for n, when in wanted.items()
            if n not in found
        ]
        if rows and self.plan:
            self.planned.append((t.namespaces, rows, self.w.insert_namespaces))
        elif rows:
            self.conn.execute(self.w.insert_namespaces, rows)

    def _insert_missing(
        self,
        table: Any,
        insert: Any,
        wanted: dict[DsKey, datetime],
        defaults: Any,
        into: dict[DsKey, Row],
    ) -> None:
        """Load the rows of ``wanted`` keys into ``into``, inserting the missing ones first
        (planning them, with the ids the table gives next, when :attr:`plan`)."""
        self._load_by_key(table, list(wanted), into)
        missing = [(key, when) for key, when in wanted.items() if key not in into]
        if not missing:
            return
        if not self.plan:
            rows = [
                {"namespace": ns, "name": name, **defaults(when)} for (ns, name), when in missing
            ]
            self.conn.execute(insert, rows)
            self._load_by_key(table, [key for key, _ in missing], into)
            return
        base = self.id_bases[table] = newest_id(self.conn, table)
        planned = []
        for k, ((ns, name), when) in enumerate(missing, 1):
            values = {"id": base + k, "namespace": ns, "name": name}
            planned.append(_as_inserted(table, {**values, **defaults(when)}))
            # its own copy, nested lists and maps too: the batch changes it in memory
            into[(ns, name)] = _as_inserted(table, {**values, **defaults(when)})
        self.planned.append((table, planned, None))

    def _load_by_key(self, table: Any, keys: list[DsKey], into: dict[DsKey, Row]) -> None:
        by_ns: dict[str, list[str]] = {}
        for ns, name in keys:
            by_ns.setdefault(ns, []).append(name)
        for ns, names in by_ns.items():
            for chunk in _chunks(names):
                for r in self.conn.execute(self.loads.by_name(table), {"ns": ns, "keys": chunk}):
                    into[(r.namespace, r.name)] = _row(r)

    # -- 2. load what the batch can change --------------------------------------------------
    def _load(self) -> None:
        run_ids = list(dict.fromkeys(i.event.run_id for i in self.items if i.event.run_id))
        for chunk in _chunks(run_ids):
            for r in self.conn.execute(self.loads.runs, {"keys": chunk}):
                row = _row(r)
                self.run_jv_version[r.run_id] = row.pop("jv_version")
                self.runs[r.run_id] = row
        others = [
            j["latest_run_id"]
            for j in self.jobs.values()
            if j["latest_run_id"] and j["latest_run_id"] not in self.runs
        ]
        for chunk in _chunks(others):
            for run_id, created in self.conn.execute(self.loads.run_created, {"keys": chunk}):
                self.other_run_created[run_id] = aware(created)
        for chunk in _chunks(run_ids):
            for r in self.conn.execute(self.loads.run_io, {"keys": chunk}):
                self.dataset_keys.setdefault(r.dataset_id, (r.namespace, r.name))
                self.run_io.setdefault(r.run_id, {})[(r.dataset_id, r.direction)] = {
                    "dataset_version": r.dataset_version,
                    "facets": r.facets or {},
                }
        self._load_dataset_versions()

    def _load_dataset_versions(self) -> None:
        """The stored versions this batch's events name, and each output's current version."""
        wanted: dict[int, set[str]] = {}
        outputs: set[int] = set()
        for item in self.items:
            for dataset_id, version, direction in self._versions_named(item):
                if version is not None:
                    wanted.setdefault(dataset_id, set()).add(version)
                if direction == "out":
                    outputs.add(dataset_id)
        pairs = [(d, v) for d, versions in wanted.items() for v in versions]
        for chunk in _chunks(pairs):
            values = pair_values(chunk, arrays=self.loads.arrays)
            for r in self.conn.execute(self.loads.dataset_versions, values):
                self.dataset_versions[(r.dataset_id, r.version)] = _row(r)
        for chunk in _chunks(sorted(outputs)):
            for r in self.conn.execute(self.loads.top_versions, {"ids": chunk}):
                self.top_version[r.dataset_id] = (aware(r.created_at), int(r.id), r.version)

    def _versions_named(self, item: _Item) -> Iterable[tuple[int, str | None, str]]:
        """``(dataset id, version or None, direction)`` of each version the event may write."""
        event = item.event
        if event.kind == "dataset":
            ds = event.data["dataset"]
            dataset_id = self.datasets[(ds["namespace"], ds["name"])]["id"]
            yield (
                dataset_id,
                _version_of(dataset_id, ds, f"dataset-event:{event.content_hash}"),
                "out",
            )
        elif event.kind == "run":
            assert event.run_id is not None
            for direction, items in (("in", event.inputs), ("out", event.outputs)):
                for ds in items:
                    dataset_id = self.datasets[(ds["namespace"], ds["name"])]["id"]
                    version: str | None = _version_of(dataset_id, ds, event.run_id)
                    if direction == "in" and not _has_version_facet(ds):
                        version = None
                    yield dataset_id, version, direction

    # -- 3. apply, in log order ---------------------------------------------------------------
    def _apply(self, item: _Item) -> None:
        kind = item.event.kind
        if kind == "run":
            self._run_event(item)
        elif kind == "dataset":
            self._dataset_event(item)
        else:
            self._job_event(item)

    def _dataset(self, ds: dict[str, Any], when: datetime, event_id: int) -> int:
        key = (ds["namespace"], ds["name"])
        row = self.datasets[key]
        facets: dict[str, Any] = dict(ds.get("facets") or {})
        if facets:
            newer = row["updated_at"] <= when
            current = row["facets"] or {}
            merged = {**current, **facets} if newer else {**facets, **current}
            if merged != current:
                row["facets"] = merged
                if newer:
                    row["updated_at"] = when
                    row.update(dataset_columns(facets))
                self.dirty_datasets.add(key)
        self._assertions(row["id"], ds, event_id, when)
        return int(row["id"])

    def _assertions(
        self, dataset_id: int, ds: dict[str, Any], event_id: int, when: datetime
    ) -> None:
        facet = (ds.get("inputFacets") or {}).get("dataQualityAssertions") or (
            ds.get("facets") or {}
        ).get("dataQualityAssertions")
        if not isinstance(facet, dict):
            return
        self.assertions.extend(
            {
                "event_id": event_id,
                "dataset_id": dataset_id,
                "assertion": str(a.get("assertion")),
                "column_name": a.get("column"),
                "success": bool(a.get("success")),
                "severity": a.get("severity"),
                "event_time": when,
            }
            for a in facet.get("assertions") or []
            if isinstance(a, dict) and "assertion" in a
        )

    def _job(self, job: dict[str, Any], when: datetime) -> Row:
        key = (job["namespace"], job["name"])
        row = self.jobs[key]
        facets: dict[str, Any] = dict(job.get("facets") or {})
        if facets:
            newer = row["updated_at"] <= when
            current = row["facets"] or {}
            row["facets"] = {**current, **facets} if newer else {**facets, **current}
            if newer:
                row["updated_at"] = when
                row.update(job_columns(facets))
            self.dirty_jobs.add(key)
        return row

    def _run_event(self, item: _Item) -> None:
        event, when = item.event, item.event.event_time
        assert event.run_id is not None
        run_id = event.run_id
        job = self._job(event.data["job"], when)
        self._upsert_run(run_id, job, event, item.run_facets, item.job_facets)
        self.run_facets.append(
            {
                "event_id": item.event_id,
                "run_id": run_id,
                "event_time": when,
                "run_facets": item.run_facets,
                "job_facets": item.job_facets,
            }
        )
        for direction, items in (("in", event.inputs), ("out", event.outputs)):
            for ds in items:
                dataset_id = self._dataset(ds, when, item.event_id)
                version = self._io_version(dataset_id, ds, direction, run_id, when)
                self._run_io(run_id, dataset_id, direction, version, ds)
        self._refresh_job_version(run_id, job, when, item.outputs)

    def _upsert_run(
        self,
        run_id: str,
        job: Row,
        event: ValidatedEvent,
        run_facets: dict[str, Any],
        job_facets: dict[str, Any],
    ) -> None:
        when = event.event_time
        new_state = RUN_STATES.get(event.event_type or "")
        nominal = run_facets.get("nominalTime") or {}
        parent = (run_facets.get("parent") or {}).get("run") or {}
        sql = (job_facets.get("sql") or {}).get("query")
        row = self.runs.get(run_id)
        if row is None:
            self.runs[run_id] = {
                "run_id": run_id,
                "job_id": job["id"],
                "job_version_id": None,
                "state": new_state or "NEW",
                "state_time": when if new_state else None,
                "created_at": when,
                "updated_at": when,
                "started_at": when if event.event_type in ("START", "RUNNING") else None,
                "ended_at": when if new_state in TERMINAL else None,
                "nominal_start_time": opt_time(nominal.get("nominalStartTime")),
                "nominal_end_time": opt_time(nominal.get("nominalEndTime")),
                "parent_run_id": parent.get("runId"),
                "sql": sql,
            }
            self.run_jv_version[run_id] = None
            self.new_runs.add(run_id)
            self._set_latest_run(job, run_id)
            return
        row["updated_at"] = max(row["updated_at"], when)
        row["created_at"] = min(row["created_at"], when)
        if new_state and state_wins(row["state"], row["state_time"], new_state, when):
            row["state"], row["state_time"] = new_state, when
        if event.event_type == "START" or (
            event.event_type == "RUNNING" and row["started_at"] is None
        ):
            row["started_at"] = min(row["started_at"], when) if row["started_at"] else when
        if new_state in TERMINAL:
            row["ended_at"] = max(row["ended_at"], when) if row["ended_at"] else when
        if nominal.get("nominalStartTime"):
            row["nominal_start_time"] = opt_time(nominal.get("nominalStartTime"))
            row["nominal_end_time"] = opt_time(nominal.get("nominalEndTime"))
        if parent.get("runId"):
            row["parent_run_id"] = parent["runId"]
        if sql:
            row["sql"] = sql
        self.dirty_runs.add(run_id)
        self._set_latest_run(job, run_id)

    def _set_latest_run(self, job: Row, run_id: str) -> None:
        """The job's latest run is the one created last (a late event of an older run is not)."""
        latest = job["latest_run_id"]
        if latest == run_id:
            return
        if latest is not None:
            latest_row = self.runs.get(latest)
            latest_created = (
                latest_row["created_at"]
                if latest_row is not None
                else self.other_run_created.get(latest)
            )
            if latest_created is not None and self.runs[run_id]["created_at"] < latest_created:
                return
        job["latest_run_id"] = run_id
        self.dirty_jobs.add((job["namespace"], job["name"]))

    def _io_version(
        self, dataset_id: int, ds: dict[str, Any], direction: str, run_id: str, when: datetime
    ) -> str | None:
        if direction == "in" and not _has_version_facet(ds):
            return None  # resolved on read: the version current when the run started
        facets = ds.get("facets") or {}
        version = _version_of(dataset_id, ds, run_id)
        fields = schema_fields(facets)
        lifecycle = (facets.get("lifecycleStateChange") or {}).get("lifecycleStateChange")
        key = (dataset_id, version)
        row = self.dataset_versions.get(key)
        if row is None:
            version_facet = (facets.get("version") or {}).get("datasetVersion")
            self.dataset_versions[key] = {
                "dataset_id": dataset_id,
                "version": version,
                "version_facet": None if version_facet is None else str(version_facet),
                "run_id": run_id if direction == "out" else None,
                "created_at": when,
                "fields": fields or [],
                "facets": dict(facets),
                "lifecycle_state": lifecycle,
            }
            self.new_dataset_versions.append(key)
            self._seq += 1
            top = self.top_version.get(dataset_id)
            candidate = (when, 1 << 62 | self._seq, version)
            if top is None or candidate[:2] > top[:2]:
                self.top_version[dataset_id] = candidate
        elif direction == "out" and facets:
            # the version exists (another event of the same run): merge this event's facets in
            row["facets"] = {**(row["facets"] or {}), **facets}
            row["fields"] = fields or row["fields"] or []
            if lifecycle:
                row["lifecycle_state"] = lifecycle
            self.dirty_dataset_versions.add(key)
        if direction == "out":
            dataset = self.datasets[self.dataset_keys[dataset_id]]
            dataset["current_version"] = self.top_version[dataset_id][2]
            self.dirty_datasets.add(self.dataset_keys[dataset_id])
        return version

    def _run_io(
        self, run_id: str, dataset_id: int, direction: str, version: str | None, ds: dict[str, Any]
    ) -> None:
        io_facets = dict(ds.get("inputFacets" if direction == "in" else "outputFacets") or {})
        rows = self.run_io.setdefault(run_id, {})
        row = rows.get((dataset_id, direction))
        if row is None:
            rows[(dataset_id, direction)] = {"dataset_version": version, "facets": io_facets}
        else:
            if version is not None:
                row["dataset_version"] = version
            if io_facets:
                row["facets"] = io_facets
        self.dirty_run_io[(run_id, dataset_id, direction)] = None

    def _refresh_job_version(
        self, run_id: str, job: Row, when: datetime, outputs: list[dict[str, Any]]
    ) -> None:
        run = self.runs[run_id]
        io = list(self.run_io.get(run_id, {}))
        parts = sorted(
            f"{direction}|{self.dataset_keys[d][0]}|{self.dataset_keys[d][1]}"
            for d, direction in io
        )
        version = version_uuid(job["namespace"], job["name"], run["sql"] or "", *parts)
        if self.run_jv_version[run_id] == version:
            # nothing changed the version: only new column lineage to add
            self._column_edges(run["job_version_id"], outputs)
            return
        jv = self._job_version(job["id"], version, when, run["sql"], job["location"], io)
        if run["job_version_id"] != jv:
            run["job_version_id"] = jv
            self.run_jv_version[run_id] = version
            self.dirty_runs.add(run_id)
        # The job's current version is the one of its most recently started run.
        if job["latest_run_id"] == run_id:
            job["current_version_id"], job["current_version_time"] = jv, when
            self.dirty_jobs.add((job["namespace"], job["name"]))
        self._column_edges(jv, outputs)

    def _job_version(
        self,
        job_id: int,
        version: str,
        when: datetime,
        sql: str | None,
        location: str | None,
        io: list[tuple[int, str]],
    ) -> JvKey:
        """The job version's key; created on write unless it is stored already."""
        key = (job_id, version)
        self.job_versions.setdefault(
            key,
            {
                "job_id": job_id,
                "version": version,
                "created_at": when,
                "sql": sql,
                "location": location,
                "facets": {},
            },
        )
        for dataset_id, direction in io:
            self.job_version_io[(key, dataset_id, direction)] = None
        return key

    def _column_edges(self, jv: JvRef, outputs: Iterable[dict[str, Any]]) -> None:
        """Column lineage reported with this event belongs to the job version current after it."""
        if jv is None:
            return
        for ds in outputs:
            facet = (ds.get("facets") or {}).get("columnLineage")
            if not isinstance(facet, dict):
                continue
            out_id = self.datasets[(ds["namespace"], ds["name"])]["id"]
            for out_field, spec in (facet.get("fields") or {}).items():
                for inp in (spec or {}).get("inputFields") or []:
                    self._edge(jv, out_id, out_field, inp, spec or {})
            for inp in facet.get("dataset") or []:
                self._edge(jv, out_id, "", inp, {})

    def _edge(self, jv: JvRef, out_id: int, out_field: str, inp: Any, spec: dict[str, Any]) -> None:
        if not _is_field_ref(inp):
            return
        in_id = self.datasets[(inp["namespace"], inp["name"])]["id"]
        key = (jv, out_id, out_field, in_id, str(inp["field"]))
        if key in self.column_edges:
            return  # the first report of an edge stands (as the table's ON CONFLICT DO NOTHING)
        transformations = [tr for tr in inp.get("transformations") or [] if isinstance(tr, dict)]
        if not transformations and (
            spec.get("transformationType") or spec.get("transformationDescription")
        ):
            # 1-0-x facets put one transformation on the output field.
            legacy_type = str(spec.get("transformationType") or "")
            transformations = [
                {
                    "type": "INDIRECT" if legacy_type.upper() == "INDIRECT" else "DIRECT",
                    "subtype": legacy_type,
                    "description": spec.get("transformationDescription") or "",
                    "masking": False,
                }
            ]
        first = transformations[0] if transformations else {}
        self.column_edges[key] = {  # type: ignore[index]
            "out_dataset_id": out_id,
            "out_field": out_field,
            "in_dataset_id": in_id,
            "in_field": str(inp["field"]),
            "transformations": transformations,
            "description": first.get("description") or spec.get("transformationDescription"),
            "type": first.get("type"),
            "subtype": first.get("subtype"),
        }

    def _dataset_event(self, item: _Item) -> None:
        event = item.event
        ds = event.data["dataset"]
        dataset_id = self._dataset(ds, event.event_time, item.event_id)
        facets = ds.get("facets") or {}
        if _has_version_facet(ds) or schema_fields(facets):
            self._io_version(
                dataset_id, ds, "out", f"dataset-event:{event.content_hash}", event.event_time
            )

    def _job_event(self, item: _Item) -> None:
        event, when = item.event, item.event.event_time
        job = self._job(event.data["job"], when)
        sides = (("in", event.inputs), ("out", event.outputs))
        io = [
            (self.datasets[(ds["namespace"], ds["name"])]["id"], d)
            for d, items in sides
            for ds in items
        ]
        sql = ((event.data["job"].get("facets") or {}).get("sql") or {}).get("query")
        names = sorted(f"{d}|{ds['namespace']}|{ds['name']}" for d, items in sides for ds in items)
        version = version_uuid(job["namespace"], job["name"], sql or "", *names)
        jv = self._job_version(job["id"], version, when, sql, job["location"], io)
        current_time = job["current_version_time"]
        if current_time is None or current_time <= when:
            job["current_version_id"], job["current_version_time"] = jv, when
            self.dirty_jobs.add((job["namespace"], job["name"]))
        self._column_edges(jv, event.outputs)

    # -- 4. write what changed -----------------------------------------------------------------
    def _write(self) -> None:
        ids, created = self._write_job_versions()

        def jv_id(ref: JvRef) -> int | None:
            return ids[ref] if isinstance(ref, tuple) else ref

        w = self.w
        io_rows: dict[bool, list[Row]] = {True: [], False: []}  # by: is the job version new?
        for k, d, r in self.job_version_io:
            io_rows[k in created].append(
                {"job_version_id": ids[k], "dataset_id": d, "direction": r}
            )
        self._insert_new(t.job_version_io, io_rows[True])
        if io_rows[False]:
            self._many(w.insert_job_version_io, io_rows[False])
        # absent when loaded, and this transaction holds the projection lock: new for sure
        self._insert_new(
            t.dataset_versions, [self.dataset_versions[k] for k in self.new_dataset_versions]
        )
        changed_versions = self.dirty_dataset_versions.difference(self.new_dataset_versions)
        if changed_versions:
            self._many(
                w.update_dataset_versions,
                [
                    {
                        "b_d": d,
                        "b_v": v,
                        "b_facets": self.dataset_versions[(d, v)]["facets"],
                        "b_fields": self.dataset_versions[(d, v)]["fields"],
                        "b_lifecycle_state": self.dataset_versions[(d, v)]["lifecycle_state"],
                    }
                    for d, v in sorted(changed_versions)
                ],
            )
        new_runs = [self.runs[r] for r in self.runs if r in self.new_runs]
        self._insert_new(
            t.runs, [{**r, "job_version_id": jv_id(r["job_version_id"])} for r in new_runs]
        )
        changed_runs = sorted(self.dirty_runs - self.new_runs)
        if changed_runs:
            self._many(
                w.update_runs,
                [
                    {
                        "b_run_id": r,
                        **{
                            f"b_{c}": self.runs[r][c]
                            for c in _RUN_COLUMNS
                            if c not in ("run_id", "job_version_id")
                        },
                        "b_job_version_id": jv_id(self.runs[r]["job_version_id"]),
                    }
                    for r in changed_runs
                ],
            )
        self._insert_new(t.run_facets, self.run_facets)
        run_io_rows: dict[bool, list[Row]] = {True: [], False: []}  # by: is the run new?
        for r, d, io in self.dirty_run_io:
            run_io_rows[r in self.new_runs].append(
                {"run_id": r, "dataset_id": d, "direction": io, **self.run_io[r][(d, io)]}
            )
        self._insert_new(t.run_io, run_io_rows[True])  # a run created here has no rows yet
        if run_io_rows[False]:
            self._many(w.upsert_run_io, run_io_rows[False])
        edge_rows: dict[bool, list[Row]] = {True: [], False: []}
        for edge, row in self.column_edges.items():
            edge_rows[edge[0] in created].append({**row, "job_version_id": jv_id(edge[0])})
        self._insert_new(t.column_edges, edge_rows[True])
        if edge_rows[False]:  # an existing version may hold the edge already
            self._many(w.insert_column_edges, edge_rows[False])
        self._insert_new(t.quality_assertions, self.assertions)
        if self.dirty_datasets:
            self._many(
                w.update_datasets,
                [
                    {
                        "b_id": self.datasets[k]["id"],
                        **{f"b_{c}": self.datasets[k][c] for c in _DATASET_MUTABLE},
                    }
                    for k in sorted(self.dirty_datasets)
                ],
            )
        if self.dirty_jobs:
            self._many(
                w.update_jobs,
                [
                    {
                        "b_id": self.jobs[k]["id"],
                        **{f"b_{c}": self.jobs[k][c] for c in _JOB_MUTABLE},
                        "b_current_version_id": jv_id(self.jobs[k]["current_version_id"]),
                    }
                    for k in sorted(self.dirty_jobs)
                ],
            )

    def _insert_new(self, table: Any, rows: list[Row]) -> None:
        """Insert rows known not to exist (:func:`headwater.store.bulk.insert_rows`)."""
        if self.recorded is None:
            insert_rows(self.conn, table, rows)
        elif rows:
            self.recorded.append(insert_later(self.conn.dialect, table, rows))

    def _many(self, statement: Any, rows: list[Row]) -> None:
        """``executemany`` (:func:`headwater.store.bulk.execute_many`)."""
        if self.recorded is None:
            execute_many(self.conn, statement, rows)
        elif rows:
            self.recorded.append(many(self.conn.dialect, statement, rows))

    def _write_job_versions(self) -> tuple[dict[JvKey, int], set[JvKey]]:
        """Insert the job versions not stored yet (in creation order); every key's id, and the
        keys created here (which, being new, have no inputs, outputs or column edges yet)."""
        ids: dict[JvKey, int] = {}
        if not self.job_versions:
            return ids, set()
        self._job_version_ids(list(self.job_versions), ids)
        new = [k for k in self.job_versions if k not in ids]
        if new and self.plan:  # the ids the table gives next, as for datasets and jobs
            base = self.id_bases[t.job_versions] = newest_id(self.conn, t.job_versions)
            rows = []
            for k, key in enumerate(new, 1):
                ids[key] = base + k
                rows.append({"id": base + k, **self.job_versions[key]})
            self._insert_new(t.job_versions, rows)
        elif new:
            self._insert_new(t.job_versions, [self.job_versions[k] for k in new])
            self._job_version_ids(new, ids)
        return ids, set(new)

    def _job_version_ids(self, keys: list[JvKey], into: dict[JvKey, int]) -> None:
        for chunk in _chunks(keys):
            values = pair_values(chunk, arrays=self.loads.arrays)  # exactly these pairs
            for row_id, job_id, version in self.conn.execute(self.loads.job_version_ids, values):
                into[(job_id, version)] = int(row_id)


def _item(event_id: int, event: ValidatedEvent) -> _Item:
    if event.kind != "run":
        return _Item(event_id, event, list(event.outputs), {}, {})
    run_facets: dict[str, Any] = dict((event.data.get("run") or {}).get("facets") or {})
    job_facets: dict[str, Any] = dict((event.data.get("job") or {}).get("facets") or {})
    outputs = event.outputs
    if "spark.logicalPlan" in run_facets:
        # Spark agent events with a logical plan but no column lineage: derive it from the plan
        # (imported here: :mod:`headwater.sql` imports sqlglot, which every store user would
        # otherwise load at start)
        from headwater.sql.spark_plan import with_plan_lineage

        outputs = with_plan_lineage(outputs, event.inputs, run_facets)
    return _Item(event_id, event, list(outputs), run_facets, job_facets)


def _has_version_facet(ds: dict[str, Any]) -> bool:
    return ((ds.get("facets") or {}).get("version") or {}).get("datasetVersion") is not None


def _version_of(dataset_id: int, ds: dict[str, Any], run_id: str) -> str:
    """A dataset version's id: from its ``version`` facet, else from the run that wrote it."""
    version_facet = ((ds.get("facets") or {}).get("version") or {}).get("datasetVersion")
    if version_facet is not None:
        return version_uuid("facet", str(dataset_id), str(version_facet))
    return version_uuid("run", str(dataset_id), run_id)


def _is_field_ref(inp: Any) -> bool:
    return isinstance(inp, dict) and "namespace" in inp and "name" in inp and "field" in inp


def _lineage_inputs(outputs: Iterable[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    """Every input field reference in the outputs' column lineage facets."""
    for ds in outputs:
        facet = (ds.get("facets") or {}).get("columnLineage")
        if not isinstance(facet, dict):
            continue
        for spec in (facet.get("fields") or {}).values():
            for inp in (spec or {}).get("inputFields") or []:
                if _is_field_ref(inp):
                    yield inp
        for inp in facet.get("dataset") or []:
            if _is_field_ref(inp):
                yield inp
