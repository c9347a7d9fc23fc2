"""Marquez entities as JSON from their rows: runs, jobs and datasets with what they refer to.

The queries that complete a page of rows for :mod:`headwater.store.views` (the pure row ->
Marquez shape functions): a run's job, version, merged facets and dataset versions; a job's
current version, its inputs and outputs and its latest run; a dataset's tags. Each reads a whole
page in a fixed number of statements, however many rows (keys sent as one list parameter,
:func:`node_rows`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, select

from headwater.model.nodes import DatasetId, JobId
from headwater.store import schema as t
from headwater.store import traversal, views
from headwater.store.base import Json

_CHUNK = 500  # bound on IN-list sizes per query


def chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most 500, the bound on an ``IN`` list's length per query."""
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def node_rows(
    conn: Connection,
    dialect: str,
    table: Any,
    keys: Iterable[int] | Iterable[str],
    columns: Sequence[Any],
    *where: ColumnElement[bool],
    key: Any = None,
    join: tuple[Any, ColumnElement[bool]] | None = None,
    order: Sequence[Any] = (),
) -> Iterable[Any]:
    """``key, *columns`` of the rows of ``table`` whose ``key`` (default: its primary key
    ``id``) is one of ``keys`` (and ``where``), in one statement however many keys (none
    for no keys); ``join`` adds a table to read columns from, ``order`` sorts the rows."""
    values: list[Any] = list(keys)
    if not values:
        return []
    key = table.c.id if key is None else key
    query = select(key, *columns).where(traversal.ids_in(dialect, key), *where)
    if join is not None:
        query = query.join(*join)
    return conn.execute(query.order_by(*order), {"ids": traversal.id_list(dialect, values)})


def tags_for(conn: Any, dataset_ids: Sequence[int]) -> dict[int, dict[str, list[str]]]:
    """Per dataset id, its tags by field (``""``: the dataset's own)."""
    out: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for chunk in chunks(list(dataset_ids)):
        for row in conn.execute(
            select(t.dataset_tags).where(t.dataset_tags.c.dataset_id.in_(chunk))
        ):
            out[row.dataset_id][row.field].append(row.tag)
    return out


def version_io(
    conn: Any, dialect: str, jv_ids: Sequence[int]
) -> dict[int, tuple[list[DatasetId], list[DatasetId]]]:
    """Per job version id, its input and output datasets, each sorted by name."""
    io: dict[int, tuple[list[DatasetId], list[DatasetId]]] = defaultdict(lambda: ([], []))
    named: dict[tuple[str, str], DatasetId] = {}  # one DatasetId per dataset, not per row
    rows = node_rows(
        conn,
        dialect,
        t.job_version_io,
        [i for i in jv_ids if i is not None],
        [t.job_version_io.c.direction, t.datasets.c.namespace, t.datasets.c.name],
        key=t.job_version_io.c.job_version_id,
        join=(t.datasets, t.datasets.c.id == t.job_version_io.c.dataset_id),
        order=(t.datasets.c.namespace, t.datasets.c.name),
    )
    for version_id, direction, namespace, name in rows:
        dataset = named.get((namespace, name))
        if dataset is None:
            dataset = named[namespace, name] = DatasetId(namespace, name)
        io[version_id][0 if direction == "in" else 1].append(dataset)
    return io


def merged_facets(conn: Any, run_ids: Sequence[str], column: str) -> dict[str, Json]:
    """Per run, the facets of its events in ``column`` (``run_facets``, ``job_facets``),
    merged in event-time order (a later event's facet replaces an earlier one's)."""
    merged: dict[str, Json] = defaultdict(dict)
    col = t.run_facets.c[column]
    for chunk in chunks(list(run_ids)):
        rows = conn.execute(
            select(t.run_facets.c.run_id, col)
            .where(t.run_facets.c.run_id.in_(chunk))
            .order_by(t.run_facets.c.event_time, t.run_facets.c.event_id)
        )
        for r in rows:
            merged[r.run_id].update(r[1] or {})
    return merged


def runs_json(conn: Any, dialect: str, rows: Sequence[Any], summary: bool = False) -> list[Json]:
    """Marquez ``Run``s; ``summary`` leaves out facets and dataset versions (for large graphs)."""
    if not rows:
        return []
    run_ids = [r.run_id for r in rows]
    facets = {} if summary else merged_facets(conn, run_ids, "run_facets")
    job_ids = {r.job_id for r in rows}
    jobs = {
        pk: JobId(namespace, name)
        for pk, namespace, name in node_rows(
            conn, dialect, t.jobs, job_ids, [t.jobs.c.namespace, t.jobs.c.name]
        )
    }
    version_ids = {r.job_version_id for r in rows if r.job_version_id is not None}
    versions = {
        pk: version
        for pk, version in node_rows(
            conn, dialect, t.job_versions, version_ids, [t.job_versions.c.version]
        )
    }
    io: dict[str, tuple[list[Json], list[Json]]] = defaultdict(lambda: ([], []))
    for chunk in [] if summary else chunks(run_ids):
        for r in conn.execute(run_io_query(chunk)):
            version = r.dataset_version or (r.read_version if r.direction == "in" else None)
            item = {
                "datasetVersionId": {
                    "namespace": r.namespace,
                    "name": r.name,
                    "version": version,
                },
                "facets": r.facets or {},
            }
            io[r.run_id][0 if r.direction == "in" else 1].append(item)
    return [
        views.run(
            r,
            jobs[r.job_id],
            versions.get(r.job_version_id),
            facets.get(r.run_id, {}),
            *io[r.run_id],
        )
        for r in rows
    ]


def run_io_query(run_ids: Sequence[str]) -> Any:
    """Runs' inputs and outputs; an input without a version gets the one current at the run's start."""
    dv = t.dataset_versions
    start = func.coalesce(t.runs.c.started_at, t.runs.c.created_at)
    read_version = (
        select(dv.c.version)
        .where(and_(dv.c.dataset_id == t.run_io.c.dataset_id, dv.c.created_at <= start))
        .order_by(dv.c.created_at.desc(), dv.c.id.desc())
        .limit(1)
        .correlate(t.run_io, t.runs)
        .scalar_subquery()
    )
    return (
        select(
            t.run_io,
            t.datasets.c.namespace,
            t.datasets.c.name,
            read_version.label("read_version"),
        )
        .join(t.datasets, t.datasets.c.id == t.run_io.c.dataset_id)
        .join(t.runs, t.runs.c.run_id == t.run_io.c.run_id)
        .where(t.run_io.c.run_id.in_(run_ids))
        .order_by(t.datasets.c.namespace, t.datasets.c.name)
    )


def version_at(conn: Any, dataset_id: int, when: datetime | None) -> str | None:
    """The dataset's version current at ``when`` (None: its newest), None before its first."""
    q = select(t.dataset_versions.c.version).where(t.dataset_versions.c.dataset_id == dataset_id)
    if when is not None:
        q = q.where(t.dataset_versions.c.created_at <= when)
    return conn.execute(
        q.order_by(t.dataset_versions.c.created_at.desc(), t.dataset_versions.c.id.desc()).limit(1)
    ).scalar()


def jobs_json(conn: Any, dialect: str, rows: Sequence[Any], summary: bool = False) -> list[Json]:
    """Marquez ``Job``s with their current version's inputs and outputs and their latest run
    (``summary``: that run without facets and dataset versions)."""
    io = version_io(conn, dialect, [r.current_version_id for r in rows])
    version_ids = {r.current_version_id for r in rows if r.current_version_id is not None}
    versions = {
        pk: version
        for pk, version in node_rows(
            conn, dialect, t.job_versions, version_ids, [t.job_versions.c.version]
        )
    }
    latest_ids = {r.latest_run_id for r in rows if r.latest_run_id}
    latest_rows = (
        conn.execute(
            select(t.runs).where(traversal.ids_in(dialect, t.runs.c.run_id)),
            {"ids": traversal.id_list(dialect, latest_ids)},
        ).all()
        if latest_ids
        else []
    )
    latest = {j["id"]: j for j in runs_json(conn, dialect, latest_rows, summary)}
    return [
        views.job(
            r,
            versions.get(r.current_version_id),
            *io.get(r.current_version_id, ([], [])),
            latest.get(r.latest_run_id),
        )
        for r in rows
    ]


def datasets_json(conn: Any, rows: Sequence[Any]) -> list[Json]:
    """Marquez ``Dataset``s with their tags."""
    tags = tags_for(conn, [r.id for r in rows])
    return [views.dataset(r, tags.get(r.id)) for r in rows]
