"""The write path: append validated events to the log, then project them into the tables.

Ingestion is two steps, each inside the caller's transaction. :func:`append` adds
accepted events to the ``events`` log (the source of truth) in one short
transaction: that is all a producer waits for. :class:`Ingestor` later projects
logged events, in log order and in batches, into the normalized tables (the
store's projector, run by a background thread in the server and by every read
before it reads, so reads always see every accepted event). The rules:

* idempotent: events are keyed by their canonical content hash; a duplicate is
  not appended again and changes nothing;
* order-tolerant: run state is decided by event semantics, not arrival order (a
  terminal state is never reopened by a late START/RUNNING; among terminal
  events the latest ``eventTime`` wins); run facets are kept per event and
  merged in event-time order on read;
* a run's inputs and outputs are the union over all its events, and the job
  version is recomputed from that union (plus the SQL), so a START carrying
  only inputs and a COMPLETE carrying only outputs make one version;
* column lineage is stored in full (every transformation, and the facet's
  dataset-level ``dataset`` entries), per job version;
* tamper evidence: each event row carries ``chain_hash = sha256(prev_hash +
  content_hash)``; writers serialize on the chain head.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, Row, and_, bindparam, select, update

from headwater.model.events import ValidatedEvent, parse_time
from headwater.model.nodes import DatasetId, JobId
from headwater.sql.spark_plan import with_plan_lineage
from headwater.store import schema as t

GENESIS = "0" * 64
VERSION_NS = uuid.UUID("6f1c8a53-8d0c-4b3e-9a43-5e0f3f6f2c11")

RUN_STATES = {
    "START": "RUNNING",
    "RUNNING": "RUNNING",
    "COMPLETE": "COMPLETED",
    "FAIL": "FAILED",
    "ABORT": "ABORTED",
}
TERMINAL = frozenset({"COMPLETED", "FAILED", "ABORTED"})

InsertFn = Callable[[Any], Any]  # postgresql.insert or sqlite.insert (both offer on_conflict_*)


def chain(prev_hash: str, content_hash: str) -> str:
    """The next hash of the event chain."""
    return hashlib.sha256(f"{prev_hash}{content_hash}".encode()).hexdigest()


def _version_uuid(*parts: str) -> str:
    return str(uuid.uuid5(VERSION_NS, "\x1f".join(parts)))


class IdCache:
    """Ids of namespaces, datasets and jobs, which never change once a row exists.

    A store keeps one across transactions to skip look-ups; ids learned inside a transaction are
    collected in a separate cache and merged only after it commits (a rollback would void them).
    """

    def __init__(self) -> None:
        self.namespaces: set[str] = set()
        self.datasets: dict[tuple[str, str], int] = {}
        self.jobs: dict[tuple[str, str], int] = {}

    def merge(self, other: IdCache) -> None:
        """Adopt what ``other`` learned (call after its transaction committed)."""
        if len(self.datasets) > 1_000_000:  # bound memory on huge graphs
            self.datasets.clear()
        self.namespaces |= other.namespaces
        self.datasets.update(other.datasets)
        self.jobs.update(other.jobs)


class Statements:
    """Every statement of the write path, built once per dialect with bind parameters.

    Building a SQLAlchemy statement per call costs several times its execution on SQLite; these
    are built on first use and reused (SQLAlchemy also caches their compiled form), and multi-row
    writes go through ``executemany``.
    """

    def __init__(self, insert: InsertFn) -> None:
        self.insert = insert

    @cached_property
    def events_by_hash(self) -> Any:
        c = t.events.c
        return select(c.content_hash, c.id).where(
            c.content_hash.in_(bindparam("h", expanding=True))
        )

    @cached_property
    def chain_head(self) -> Any:
        return select(t.events.c.chain_hash).order_by(t.events.c.id.desc()).limit(1)

    @cached_property
    def insert_event(self) -> Any:
        return t.events.insert().returning(t.events.c.id, sort_by_parameter_order=True)

    @cached_property
    def insert_namespace(self) -> Any:
        return self.insert(t.namespaces).on_conflict_do_nothing(index_elements=["name"])

    @cached_property
    def insert_dataset(self) -> Any:
        return self.insert(t.datasets).on_conflict_do_nothing(index_elements=["namespace", "name"])

    @cached_property
    def dataset_row(self) -> Any:
        c = t.datasets.c
        return select(c.id, c.updated_at, c.facets, c.created_at).where(
            and_(c.namespace == bindparam("ns"), c.name == bindparam("n"))
        )

    @cached_property
    def dataset_id(self) -> Any:
        c = t.datasets.c
        return select(c.id).where(and_(c.namespace == bindparam("ns"), c.name == bindparam("n")))

    @cached_property
    def update_dataset(self) -> Any:
        """Columns to set come as parameters; ``b_id`` is the dataset's id."""
        return update(t.datasets).where(t.datasets.c.id == bindparam("b_id"))

    @cached_property
    def insert_assertions(self) -> Any:
        return t.quality_assertions.insert()

    @cached_property
    def insert_job(self) -> Any:
        return self.insert(t.jobs).on_conflict_do_nothing(index_elements=["namespace", "name"])

    @cached_property
    def job_row(self) -> Any:
        c = t.jobs.c
        return select(c.id, c.updated_at, c.facets).where(
            and_(c.namespace == bindparam("ns"), c.name == bindparam("n"))
        )

    @cached_property
    def job_by_id(self) -> Any:
        c = t.jobs.c
        return select(
            c.namespace, c.name, c.location, c.latest_run_id, c.current_version_time
        ).where(c.id == bindparam("b_id"))

    @cached_property
    def update_job(self) -> Any:
        return update(t.jobs).where(t.jobs.c.id == bindparam("b_id"))

    @cached_property
    def insert_run_facets(self) -> Any:
        return t.run_facets.insert()

    @cached_property
    def run_row(self) -> Any:
        return select(t.runs).where(t.runs.c.run_id == bindparam("r"))

    @cached_property
    def run_created(self) -> Any:
        return select(t.runs.c.created_at).where(t.runs.c.run_id == bindparam("r"))

    @cached_property
    def insert_run(self) -> Any:
        return self.insert(t.runs).on_conflict_do_nothing(index_elements=["run_id"])

    @cached_property
    def update_run(self) -> Any:
        return update(t.runs).where(t.runs.c.run_id == bindparam("b_run"))

    @cached_property
    def insert_dataset_version(self) -> Any:
        return self.insert(t.dataset_versions).on_conflict_do_nothing(
            index_elements=["dataset_id", "version"]
        )

    @cached_property
    def dataset_version_row(self) -> Any:
        c = t.dataset_versions.c
        return select(c.facets, c.fields).where(
            and_(c.dataset_id == bindparam("d"), c.version == bindparam("v"))
        )

    @cached_property
    def update_dataset_version(self) -> Any:
        c = t.dataset_versions.c
        return update(t.dataset_versions).where(
            and_(c.dataset_id == bindparam("b_d"), c.version == bindparam("b_v"))
        )

    @cached_property
    def current_dataset_version(self) -> Any:
        c = t.dataset_versions.c
        return (
            select(c.version)
            .where(c.dataset_id == bindparam("d"))
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(1)
        )

    def insert_run_io(self, set_version: bool, set_facets: bool) -> Any:
        """Insert a run's input/output; on conflict, update what this event says."""
        return _run_io_statement(self.insert, set_version, set_facets)

    @cached_property
    def run_io_of_run(self) -> Any:
        return (
            select(
                t.run_io.c.dataset_id,
                t.run_io.c.direction,
                t.datasets.c.namespace,
                t.datasets.c.name,
            )
            .join(t.datasets, t.datasets.c.id == t.run_io.c.dataset_id)
            .where(t.run_io.c.run_id == bindparam("r"))
        )

    @cached_property
    def run_version(self) -> Any:
        return (
            select(t.runs.c.sql, t.runs.c.job_version_id, t.job_versions.c.version)
            .join(t.job_versions, t.job_versions.c.id == t.runs.c.job_version_id, isouter=True)
            .where(t.runs.c.run_id == bindparam("r"))
        )

    @cached_property
    def insert_job_version(self) -> Any:
        return self.insert(t.job_versions).on_conflict_do_nothing(
            index_elements=["job_id", "version"]
        )

    @cached_property
    def job_version_id(self) -> Any:
        c = t.job_versions.c
        return select(c.id).where(and_(c.job_id == bindparam("j"), c.version == bindparam("v")))

    @cached_property
    def insert_job_version_io(self) -> Any:
        return self.insert(t.job_version_io).on_conflict_do_nothing()

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


@lru_cache(maxsize=8)
def _run_io_statement(insert: InsertFn, set_version: bool, set_facets: bool) -> Any:
    stmt = insert(t.run_io)
    keys = ["run_id", "dataset_id", "direction"]
    set_: dict[str, Any] = {}
    if set_version:
        set_["dataset_version"] = stmt.excluded.dataset_version
    if set_facets:
        set_["facets"] = stmt.excluded.facets
    if set_:
        return stmt.on_conflict_do_update(index_elements=keys, set_=set_)
    return stmt.on_conflict_do_nothing(index_elements=keys)


@lru_cache(maxsize=4)
def statements(insert: InsertFn) -> Statements:
    """The write path's statements for a dialect's ``insert`` (built once, then shared)."""
    return Statements(insert)


class Ingestor:
    """Applies events to the tables over one connection (inside a transaction).

    Args:
        conn: an open connection with a transaction begun.
        insert: the dialect's ``insert`` (PostgreSQL or SQLite), which both offer
            ``on_conflict_do_nothing``/``on_conflict_do_update``.
        known: ids known from committed transactions (read only here).
    """

    def __init__(self, conn: Connection, insert: InsertFn, known: IdCache | None = None) -> None:
        self.conn = conn
        self.insert = insert
        self.q = statements(insert)
        self.known = known or IdCache()
        self.learned = IdCache()

    def _cached_dataset(self, key: tuple[str, str]) -> int | None:
        return self.known.datasets.get(key) or self.learned.datasets.get(key)

    # -- entry point -------------------------------------------------------------------------
    def project(self, event: ValidatedEvent, event_id: int) -> None:
        """Apply one logged event (``event_id`` is its row in ``events``) to the tables."""
        if event.kind == "run":
            self._apply_run_event(event, event_id)
        elif event.kind == "dataset":
            self._apply_dataset_event(event, event_id)
        else:
            self._apply_job_event(event)

    # -- namespaces, datasets, jobs ----------------------------------------------------------
    def _namespace(self, name: str, when: datetime) -> None:
        if name in self.known.namespaces or name in self.learned.namespaces:
            return
        self.conn.execute(
            self.q.insert_namespace, {"name": name, "created_at": when, "updated_at": when}
        )
        self.learned.namespaces.add(name)

    def _dataset(self, ds: dict[str, Any], when: datetime, event_id: int) -> int:
        ns, name = ds["namespace"], ds["name"]
        facets: dict[str, Any] = dict(ds.get("facets") or {})
        cached = self._cached_dataset((ns, name))
        if cached is not None and not facets:
            self._record_assertions(cached, ds, event_id, when)
            return cached
        self._insert_dataset(ns, name, when)
        row = self.conn.execute(self.q.dataset_row, {"ns": ns, "n": name}).one()
        if facets:
            self._update_dataset_facets(row.id, row.facets or {}, facets, when, row.updated_at)
        self._record_assertions(row.id, ds, event_id, when)
        self.learned.datasets[(ns, name)] = int(row.id)
        return int(row.id)

    def _update_dataset_facets(
        self,
        dataset_id: int,
        current: dict[str, Any],
        facets: dict[str, Any],
        when: datetime,
        updated_at: datetime,
    ) -> None:
        newer = _aware(updated_at) <= when
        merged = {**current, **facets} if newer else {**facets, **current}
        if merged == current:
            return  # the same facets again (producers resend schemas): nothing to write
        values: dict[str, Any] = {"facets": merged}
        if newer:
            values["updated_at"] = when
            values.update(_dataset_columns(facets))
        self.conn.execute(self.q.update_dataset, {"b_id": dataset_id, **values})

    def _record_assertions(
        self, dataset_id: int, ds: dict[str, Any], event_id: int, when: datetime
    ) -> None:
        facet = (ds.get("inputFacets") or {}).get("dataQualityAssertions") or (
            ds.get("facets") or {}
        ).get("dataQualityAssertions")
        if not isinstance(facet, dict):
            return
        rows = [
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
        ]
        if rows:
            self.conn.execute(self.q.insert_assertions, rows)

    def _job(self, job: dict[str, Any], when: datetime) -> int:
        ns, name = job["namespace"], job["name"]
        cached = self.known.jobs.get((ns, name)) or self.learned.jobs.get((ns, name))
        if cached is not None and not job.get("facets"):
            return cached
        self._namespace(ns, when)
        self.conn.execute(
            self.q.insert_job,
            {
                "namespace": ns,
                "name": name,
                "type": "BATCH",
                "created_at": when,
                "updated_at": when,
                "facets": {},
            },
        )
        row = self.conn.execute(self.q.job_row, {"ns": ns, "n": name}).one()
        facets: dict[str, Any] = dict(job.get("facets") or {})
        if facets:
            newer = _aware(row.updated_at) <= when
            current = row.facets or {}
            values: dict[str, Any] = {
                "facets": {**current, **facets} if newer else {**facets, **current}
            }
            if newer:
                values["updated_at"] = when
                values.update(_job_columns(facets))
            self.conn.execute(self.q.update_job, {"b_id": row.id, **values})
        self.learned.jobs[(ns, name)] = int(row.id)
        return int(row.id)

    # -- run events --------------------------------------------------------------------------
    def _apply_run_event(self, event: ValidatedEvent, event_id: int) -> None:
        data, when = event.data, event.event_time
        assert event.run_id is not None
        run_id = event.run_id
        job_id = self._job(data["job"], when)
        run_facets: dict[str, Any] = dict((data.get("run") or {}).get("facets") or {})
        job_facets: dict[str, Any] = dict((data.get("job") or {}).get("facets") or {})
        self._upsert_run(run_id, job_id, event, run_facets, job_facets)
        self.conn.execute(
            self.q.insert_run_facets,
            {
                "event_id": event_id,
                "run_id": run_id,
                "event_time": when,
                "run_facets": run_facets,
                "job_facets": job_facets,
            },
        )
        for direction, items in (("in", event.inputs), ("out", event.outputs)):
            for ds in items:
                dataset_id = self._dataset(ds, when, event_id)
                version = self._dataset_io_version(dataset_id, ds, direction, run_id, when)
                self._run_io(run_id, dataset_id, direction, version, ds)
        # Spark agent events with a logical plan but no column lineage: derive it from the plan
        outputs = with_plan_lineage(event.outputs, event.inputs, run_facets)
        self._refresh_job_version(run_id, job_id, when, outputs)

    def _upsert_run(
        self,
        run_id: str,
        job_id: int,
        event: ValidatedEvent,
        run_facets: dict[str, Any],
        job_facets: dict[str, Any],
    ) -> None:
        when = event.event_time
        new_state = RUN_STATES.get(event.event_type or "")
        nominal = run_facets.get("nominalTime") or {}
        parent = (run_facets.get("parent") or {}).get("run") or {}
        sql = (job_facets.get("sql") or {}).get("query")
        existing = self.conn.execute(self.q.run_row, {"r": run_id}).first()
        if existing is None:
            row = {
                "run_id": run_id,
                "job_id": job_id,
                "state": new_state or "NEW",
                "state_time": when if new_state else None,
                "created_at": when,
                "updated_at": when,
                "started_at": when if event.event_type in ("START", "RUNNING") else None,
                "ended_at": when if new_state in TERMINAL else None,
                "nominal_start_time": _opt_time(nominal.get("nominalStartTime")),
                "nominal_end_time": _opt_time(nominal.get("nominalEndTime")),
                "parent_run_id": parent.get("runId"),
                "sql": sql,
            }
            if self.conn.execute(self.q.insert_run, row).rowcount:
                self._set_latest_run(job_id, run_id, when)
                return
            existing = self.conn.execute(self.q.run_row, {"r": run_id}).one()
        values: dict[str, Any] = {"updated_at": max(_aware(existing.updated_at), when)}
        values["created_at"] = min(_aware(existing.created_at), when)
        if new_state and _state_wins(
            existing.state, _opt_aware(existing.state_time), new_state, when
        ):
            values.update(state=new_state, state_time=when)
        if event.event_type == "START" or (
            event.event_type == "RUNNING" and existing.started_at is None
        ):
            values["started_at"] = (
                min(_aware(existing.started_at), when) if existing.started_at else when
            )
        if new_state in TERMINAL:
            values["ended_at"] = max(_aware(existing.ended_at), when) if existing.ended_at else when
        if nominal.get("nominalStartTime"):
            values["nominal_start_time"] = _opt_time(nominal.get("nominalStartTime"))
            values["nominal_end_time"] = _opt_time(nominal.get("nominalEndTime"))
        if parent.get("runId"):
            values["parent_run_id"] = parent["runId"]
        if sql:
            values["sql"] = sql
        self.conn.execute(self.q.update_run, {"b_run": run_id, **values})
        self._set_latest_run(job_id, run_id, when)

    def _set_latest_run(self, job_id: int, run_id: str, when: datetime) -> None:
        latest = self.conn.execute(self.q.job_by_id, {"b_id": job_id}).one().latest_run_id
        if latest == run_id:
            return
        if latest is not None:
            latest_created = self.conn.execute(self.q.run_created, {"r": latest}).scalar()
            run_created = self.conn.execute(self.q.run_created, {"r": run_id}).scalar()
            if (
                latest_created is not None
                and run_created is not None
                and _aware(run_created) < _aware(latest_created)
            ):
                return
        self.conn.execute(self.q.update_job, {"b_id": job_id, "latest_run_id": run_id})

    def _dataset_io_version(
        self, dataset_id: int, ds: dict[str, Any], direction: str, run_id: str, when: datetime
    ) -> str | None:
        facets = ds.get("facets") or {}
        version_facet = (facets.get("version") or {}).get("datasetVersion")
        if direction == "in" and version_facet is None:
            return None  # resolved on read: the version current when the run started
        version = (
            _version_uuid("facet", str(dataset_id), str(version_facet))
            if version_facet is not None
            else _version_uuid("run", str(dataset_id), run_id)
        )
        fields = _schema_fields(facets)
        lifecycle = (facets.get("lifecycleStateChange") or {}).get("lifecycleStateChange")
        inserted = self.conn.execute(
            self.q.insert_dataset_version,
            {
                "dataset_id": dataset_id,
                "version": version,
                "version_facet": None if version_facet is None else str(version_facet),
                "run_id": run_id if direction == "out" else None,
                "created_at": when,
                "fields": fields or [],
                "facets": dict(facets),
                "lifecycle_state": lifecycle,
            },
        ).rowcount
        if direction == "out" and facets and not inserted:
            # the version exists (another event of the same run): merge this event's facets in
            row = self.conn.execute(
                self.q.dataset_version_row, {"d": dataset_id, "v": version}
            ).one()
            merged = {**(row.facets or {}), **facets}
            values: dict[str, Any] = {"facets": merged, "fields": fields or row.fields or []}
            if lifecycle:
                values["lifecycle_state"] = lifecycle
            self.conn.execute(
                self.q.update_dataset_version, {"b_d": dataset_id, "b_v": version, **values}
            )
        if direction == "out":
            current = self.conn.execute(self.q.current_dataset_version, {"d": dataset_id}).scalar()
            self.conn.execute(
                self.q.update_dataset, {"b_id": dataset_id, "current_version": current}
            )
        return version

    def _run_io(
        self, run_id: str, dataset_id: int, direction: str, version: str | None, ds: dict[str, Any]
    ) -> None:
        io_facets = dict(ds.get("inputFacets" if direction == "in" else "outputFacets") or {})
        self.conn.execute(
            self.q.insert_run_io(version is not None, bool(io_facets)),
            {
                "run_id": run_id,
                "dataset_id": dataset_id,
                "direction": direction,
                "dataset_version": version,
                "facets": io_facets,
            },
        )

    def _refresh_job_version(
        self, run_id: str, job_id: int, when: datetime, outputs: Iterable[dict[str, Any]]
    ) -> None:
        io = self.conn.execute(self.q.run_io_of_run, {"r": run_id}).all()
        run = self.conn.execute(self.q.run_version, {"r": run_id}).one()
        job = self.conn.execute(self.q.job_by_id, {"b_id": job_id}).one()
        parts = sorted(f"{r.direction}|{r.namespace}|{r.name}" for r in io)
        version = _version_uuid(job.namespace, job.name, run.sql or "", *parts)
        if run.version == version:  # nothing changed the version: only new column lineage to add
            self._column_edges(run.job_version_id, outputs)
            return
        jv_id = self._job_version(
            job_id, version, when, run.sql, job.location, [(r.dataset_id, r.direction) for r in io]
        )
        if run.job_version_id != jv_id:
            self.conn.execute(self.q.update_run, {"b_run": run_id, "job_version_id": jv_id})
        # The job's current version is the one of its most recently started run.
        if job.latest_run_id == run_id:
            self.conn.execute(
                self.q.update_job,
                {"b_id": job_id, "current_version_id": jv_id, "current_version_time": when},
            )
        self._column_edges(jv_id, outputs)

    def _job_version(
        self,
        job_id: int,
        version: str,
        when: datetime,
        sql: str | None,
        location: str | None,
        io: list[tuple[int, str]],
    ) -> int:
        """Create the job version (and its inputs/outputs) unless it exists; return its id."""
        self.conn.execute(
            self.q.insert_job_version,
            {
                "job_id": job_id,
                "version": version,
                "created_at": when,
                "sql": sql,
                "location": location,
                "facets": {},
            },
        )
        jv_id = int(
            self.conn.execute(self.q.job_version_id, {"j": job_id, "v": version}).scalar_one()
        )
        if io:
            self.conn.execute(
                self.q.insert_job_version_io,
                [{"job_version_id": jv_id, "dataset_id": d, "direction": r} for d, r in io],
            )
        return jv_id

    def _column_edges(self, jv_id: int, outputs: Iterable[dict[str, Any]]) -> None:
        # Column lineage reported with this event belongs to the job version current after it.
        rows: list[dict[str, Any]] = []
        for ds in outputs:
            facet = (ds.get("facets") or {}).get("columnLineage")
            if not isinstance(facet, dict):
                continue
            out_id = self._dataset_id(ds["namespace"], ds["name"])
            for out_field, spec in (facet.get("fields") or {}).items():
                for inp in (spec or {}).get("inputFields") or []:
                    rows.extend(self._edge_rows(jv_id, out_id, out_field, inp, spec))
            for inp in facet.get("dataset") or []:
                rows.extend(self._edge_rows(jv_id, out_id, "", inp, {}))
        if rows:
            self.conn.execute(self.q.insert_column_edges, rows)

    def _edge_rows(
        self, jv_id: int, out_id: int, out_field: str, inp: dict[str, Any], spec: dict[str, Any]
    ) -> list[dict[str, Any]]:
        if (
            not isinstance(inp, dict)
            or "namespace" not in inp
            or "name" not in inp
            or "field" not in inp
        ):
            return []
        when = datetime.now(UTC)
        in_id = self._ensure_dataset(DatasetId(inp["namespace"], inp["name"]), when)
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
        return [
            {
                "job_version_id": jv_id,
                "out_dataset_id": out_id,
                "out_field": out_field,
                "in_dataset_id": in_id,
                "in_field": str(inp["field"]),
                "transformations": transformations,
                "description": first.get("description") or spec.get("transformationDescription"),
                "type": first.get("type"),
                "subtype": first.get("subtype"),
            }
        ]

    def _dataset_id(self, namespace: str, name: str) -> int:
        cached = self._cached_dataset((namespace, name))
        if cached is not None:
            return cached
        found = int(self.conn.execute(self.q.dataset_id, {"ns": namespace, "n": name}).scalar_one())
        self.learned.datasets[(namespace, name)] = found
        return found

    def _ensure_dataset(self, ds: DatasetId, when: datetime) -> int:
        cached = self._cached_dataset((ds.namespace, ds.name))
        if cached is not None:
            return cached
        found = self.conn.execute(self.q.dataset_id, {"ns": ds.namespace, "n": ds.name}).scalar()
        if found is not None:
            return int(found)
        self._insert_dataset(ds.namespace, ds.name, when)
        return self._dataset_id(ds.namespace, ds.name)

    def _insert_dataset(self, namespace: str, name: str, when: datetime) -> None:
        """Create the dataset (and its namespace) unless it exists."""
        self._namespace(namespace, when)
        self.conn.execute(
            self.q.insert_dataset,
            {
                "namespace": namespace,
                "name": name,
                "type": "DB_TABLE",
                "created_at": when,
                "updated_at": when,
                "fields": [],
                "facets": {},
            },
        )

    # -- dataset and job events --------------------------------------------------------------
    def _apply_dataset_event(self, event: ValidatedEvent, event_id: int) -> None:
        ds = event.data["dataset"]
        dataset_id = self._dataset(ds, event.event_time, event_id)
        facets = ds.get("facets") or {}
        if (facets.get("version") or {}).get("datasetVersion") is not None or _schema_fields(
            facets
        ):
            self._dataset_io_version(
                dataset_id, ds, "out", f"dataset-event:{event.content_hash}", event.event_time
            )

    def _apply_job_event(self, event: ValidatedEvent) -> None:
        data, when = event.data, event.event_time
        job_id = self._job(data["job"], when)
        ids = [
            (self._ensure_dataset(DatasetId(ds["namespace"], ds["name"]), when), d)
            for d, items in (("in", event.inputs), ("out", event.outputs))
            for ds in items
        ]
        job = self.conn.execute(self.q.job_by_id, {"b_id": job_id}).one()
        sql = ((data["job"].get("facets") or {}).get("sql") or {}).get("query")
        names = sorted(
            f"{d}|{ds['namespace']}|{ds['name']}"
            for d, items in (("in", event.inputs), ("out", event.outputs))
            for ds in items
        )
        version = _version_uuid(job.namespace, job.name, sql or "", *names)
        jv_id = self._job_version(job_id, version, when, sql, job.location, ids)
        current_time = job.current_version_time
        if current_time is None or _aware(current_time) <= when:
            self.conn.execute(
                self.q.update_job,
                {"b_id": job_id, "current_version_id": jv_id, "current_version_time": when},
            )
        self._column_edges(jv_id, event.outputs)


def append(
    conn: Connection, q: Statements, events: list[ValidatedEvent], received_at: datetime
) -> list[tuple[int, bool]]:
    """Append ``events`` to the log in order, skipping duplicates; the caller holds the chain lock.

    One look-up of the content hashes already logged, one read of the chain head, and one
    multi-row insert, whatever the number of events.

    Returns:
        ``(event id, duplicate)`` per event, in order; a duplicate has the id of the logged event.
    """
    known: dict[str, int] = {}
    hashes = sorted({e.content_hash for e in events})
    for i in range(0, len(hashes), 500):
        for content_hash, event_id in conn.execute(q.events_by_hash, {"h": hashes[i : i + 500]}):
            known[content_hash] = int(event_id)
    prev = conn.execute(q.chain_head).scalar() or GENESIS
    rows: list[dict[str, Any]] = []
    fresh: list[str] = []
    for event in events:
        if event.content_hash in known or event.content_hash in fresh:
            continue
        link = chain(prev, event.content_hash)
        rows.append(
            {
                "content_hash": event.content_hash,
                "prev_hash": prev,
                "chain_hash": link,
                "kind": event.kind,
                "event_type": event.event_type,
                "event_time": event.event_time,
                "received_at": received_at,
                "run_id": event.run_id,
                "job_namespace": event.job.namespace if event.job else None,
                "job_name": event.job.name if event.job else None,
                "producer": event.data.get("producer"),
                "raw": event.raw,
            }
        )
        fresh.append(event.content_hash)
        prev = link
    if rows:
        ids = conn.execute(q.insert_event, rows).scalars().all()
        known.update(zip(fresh, (int(i) for i in ids), strict=True))
    results: list[tuple[int, bool]] = []
    seen: set[str] = set()
    for event in events:
        h = event.content_hash
        results.append((known[h], h not in fresh or h in seen))
        seen.add(h)
    return results


def stored_event(row: Row[Any]) -> ValidatedEvent:
    """Rebuild the validated event from its ``events`` row (validated when it was appended)."""
    try:
        data = orjson.loads(row.raw)
    except orjson.JSONDecodeError:  # NaN and integers beyond 64 bits, which json accepts
        data = json.loads(row.raw)
    return ValidatedEvent(
        kind=row.kind,
        raw=row.raw,
        data=data,
        event_time=_aware(row.event_time),
        event_type=row.event_type,
        run_id=row.run_id,
        job=JobId(row.job_namespace, row.job_name) if row.job_name is not None else None,
        content_hash=row.content_hash,
    )


def _state_wins(old: str, old_time: datetime | None, new: str, when: datetime) -> bool:
    if old in TERMINAL and new not in TERMINAL:
        return False
    if new in TERMINAL and old not in TERMINAL:
        return True
    return old_time is None or when >= old_time


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _opt_aware(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


def _opt_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_time(value, "$", [])
    except ValueError:
        return None


def _schema_fields(facets: dict[str, Any]) -> list[dict[str, Any]]:
    schema = facets.get("schema")
    if not isinstance(schema, dict):
        return []
    out = []
    for f in schema.get("fields") or []:
        if isinstance(f, dict) and f.get("name"):
            out.append(
                {
                    "name": str(f["name"]),
                    "type": f.get("type"),
                    "description": f.get("description"),
                    "fields": f.get("fields") or [],
                }
            )
    return out


def _dataset_columns(facets: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    fields = _schema_fields(facets)
    if fields:
        values["fields"] = fields
    if isinstance(facets.get("documentation"), dict):
        values["description"] = facets["documentation"].get("description")
    if isinstance(facets.get("dataSource"), dict) and facets["dataSource"].get("name"):
        values["source_name"] = facets["dataSource"]["name"]
    if isinstance(facets.get("datasetType"), dict) and facets["datasetType"].get("datasetType"):
        values["type"] = str(facets["datasetType"]["datasetType"])[:16]
    lifecycle = (facets.get("lifecycleStateChange") or {}).get("lifecycleStateChange")
    if lifecycle:
        values["lifecycle_state"] = lifecycle
        values["is_deleted"] = lifecycle == "DROP"
    return values


def _job_columns(facets: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if isinstance(facets.get("documentation"), dict):
        values["description"] = facets["documentation"].get("description")
    if isinstance(facets.get("sourceCodeLocation"), dict):
        values["location"] = facets["sourceCodeLocation"].get("url")
    if isinstance(facets.get("jobType"), dict) and facets["jobType"].get("processingType"):
        values["type"] = str(facets["jobType"]["processingType"])[:16]
    return values


__all__ = ["GENESIS", "Ingestor", "chain"]
