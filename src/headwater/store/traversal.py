"""Set-based traversals: graph walks that run in the database as one recursive CTE each.

The per-level walks of :mod:`headwater.graph` send one query per level and rebuild the frontier in
Python; for a hub with tens of thousands of descendants the round trips, row decoding and object
construction dominate. The statements here walk the whole graph in one ``WITH RECURSIVE`` query
(SQLAlchemy Core, parameterized, the same text on SQLite and PostgreSQL but for the JSON helpers at
the bottom) and return one row per reached node with what callers need to rebuild paths.

Each walk follows only the job versions current now, or as of a time (the version of each job's
latest run started at or before it: :func:`job_versions`). Walks are
cycle-safe and bounded: a row carries its depth, the recursion stops at the requested depth, and
``UNION`` (not ``UNION ALL``) drops a state already produced, so a cycle adds at most one state per
depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB

from headwater.model.nodes import DatasetId, JobId
from headwater.store import schema as t
from headwater.store.base import Json, ReachedColumn, TableEdges

_EDGE_ID_LIMIT = 1 << 40  # column edge ids stay below this (a trillion edges)


def job_versions(as_of: datetime | None) -> tuple[Any, Any]:
    """``(from clause with the jobs table, version id column)``: each job's current or as-of version.

    Now: the ``jobs`` table itself (its ``current_version_id`` index serves the joins). As of a
    time: ``jobs`` joined to a CTE of the version of each job's latest run started at or before
    it, computed once per statement however often the walk joins it.
    """
    if as_of is None:
        return t.jobs, t.jobs.c.current_version_id
    r = t.runs
    order = (r.c.created_at.desc(), r.c.run_id.desc())
    ranked = (
        select(
            r.c.job_id,
            r.c.job_version_id.label("version_id"),
            func.row_number().over(partition_by=r.c.job_id, order_by=order).label("rn"),
        )
        .where(and_(r.c.created_at <= as_of, r.c.job_version_id.is_not(None)))
        .subquery("ranked_runs")
    )
    versions = select(ranked.c.job_id, ranked.c.version_id).where(ranked.c.rn == 1).cte("versions")
    return t.jobs.join(versions, versions.c.job_id == t.jobs.c.id), versions.c.version_id


def has_direct(dialect: str, edges: Any) -> ColumnElement[bool]:
    """Whether a column edge has a DIRECT transformation (any of them, not just the first).

    The denormalized ``type`` (the first transformation's) answers most edges without touching
    the JSON; the JSON is searched only when the first transformation is not DIRECT.
    """
    if dialect == "postgresql":
        in_json: ColumnElement[bool] = type_coerce(edges.c.transformations, JSONB).contains(
            [{"type": "DIRECT"}]
        )
    else:
        item = func.json_each(edges.c.transformations).table_valued("value").alias("tr")
        in_json = exists(
            select(literal(1))
            .select_from(item)
            .where(func.json_extract(item.c.value, "$.type") == "DIRECT")
        )
    return or_(edges.c.type == "DIRECT", in_json)


def facet(dialect: str, facets: Any, key: str) -> Any:
    """One facet out of a ``facets`` JSON column (NULL when absent).

    On SQLite the JSON is text, and extracting from it parses the whole document; most
    documents lack the facet asked for (ownership, say), so a substring test skips them first.
    """
    value = facets[key]
    if dialect == "postgresql" or any(c in key for c in '"\\') or not key.isprintable():
        return value
    return case((func.instr(facets, f'"{key}"') > 0, value))


def column_downstream(
    dialect: str,
    dataset_pk: int,
    field: str,
    depth: int,
    as_of: datetime | None,
    facet_keys: Sequence[str] = (),
) -> Select[Any]:
    """Every field downstream of ``(dataset_pk, field)`` within ``depth`` edges, with its BFS tree.

    A *state* is a field plus whether every edge on the way was DIRECT (``direct`` 1/0), at a
    depth. The recursion produces every state within ``depth`` (the start is the DIRECT state at
    depth 0 and is never re-entered); each (field, direct) keeps its smallest depth. For each
    kept state the statement picks the edge it was reached by (from a kept state one level up:
    DIRECT from DIRECT along a DIRECT edge; INDIRECT from an INDIRECT state, or from a DIRECT
    one along an edge without a DIRECT transformation), preferring a DIRECT predecessor, then
    the first recorded edge, and lists the jobs of every edge into the field from a field
    reached within ``depth - 1`` (the edges a level-by-level walk would have followed).

    Rows, ordered by depth: ``ds, namespace, name, field, direct, depth, pred_ds, pred_field,
    pred_direct, transformations`` (of the edge from the predecessor, as JSON text), ``job,
    job_ns, job_name`` (when one job leads into the field) or ``jobs`` (when several do: their
    ids joined by commas, repeats possible), then the facets named by ``facet_keys`` of the
    dataset (``d0, d1, ...``) and of the job (``j0, j1, ...``). ``pred_*`` is NULL for the start,
    which has a row only when edges lead back into it.
    """
    source, version = job_versions(as_of)
    ce = t.column_edges
    # The casts give the CTE's columns their table types: SQLite compares an untyped column
    # with an indexed INTEGER or TEXT one without using the index (seconds instead of ms).
    seed = select(
        cast(literal(dataset_pk), t.datasets.c.id.type).label("ds"),
        cast(literal(field), Text).label("field"),
        literal(1, Integer).label("direct"),
        literal(0, Integer).label("depth"),
    ).cte("reach", recursive=True)
    r = seed.alias("r")
    step = (
        select(
            ce.c.out_dataset_id,
            ce.c.out_field,
            case((and_(r.c.direct == 1, has_direct(dialect, ce)), 1), else_=0),
            r.c.depth + 1,
        )
        .select_from(
            r.join(ce, and_(ce.c.in_dataset_id == r.c.ds, ce.c.in_field == r.c.field)).join(
                source, version == ce.c.job_version_id
            )
        )
        .where(
            r.c.depth < depth,
            ce.c.out_field != "",  # '' holds dataset-level dependencies
            not_(and_(ce.c.out_dataset_id == dataset_pk, ce.c.out_field == field)),
        )
    )
    reach = seed.union(step)  # UNION: a state already produced is not produced again
    best = (
        select(reach.c.ds, reach.c.field, reach.c.direct, func.min(reach.c.depth).label("depth"))
        .group_by(reach.c.ds, reach.c.field, reach.c.direct)
        .cte("best")
    )
    n, p = best.alias("n"), best.alias("p")
    e = t.column_edges.alias("e")
    # May edge e, from state p, be the one state n was reached by?
    leads = and_(
        p.c.depth == n.c.depth - 1,
        case((and_(p.c.direct == 1, has_direct(dialect, e)), 1), else_=0) == n.c.direct,
    )
    # The predecessor is an arg-min over (DIRECT predecessor first, then edge id), taken as the
    # min of one integer, the edge id plus a high bit for an INDIRECT predecessor: an aggregate
    # rather than a window function, so nothing is sorted.
    limit = literal(_EDGE_ID_LIMIT, BigInteger)
    key = (1 - p.c.direct) * limit + e.c.id
    # The jobs of the edges a level-by-level walk would have followed into n: almost always one
    # (then sent as ``job``, named by one join below), else a list of ids.
    followed = case((p.c.depth < depth, t.jobs.c.id))
    one_job = func.min(followed) == func.max(followed)
    chosen = (
        select(
            n.c.ds,
            n.c.field,
            n.c.direct,
            n.c.depth,
            func.min(case((leads, key))).label("key"),
            case((one_job, func.min(followed))).label("job"),
            case((one_job, None), else_=func.aggregate_strings(cast(followed, Text), ",")).label(
                "jobs"
            ),
        )
        .select_from(
            n.join(e, and_(e.c.out_dataset_id == n.c.ds, e.c.out_field == n.c.field))
            .join(source, version == e.c.job_version_id)
            .join(p, and_(p.c.ds == e.c.in_dataset_id, p.c.field == e.c.in_field))
        )
        .group_by(n.c.ds, n.c.field, n.c.direct, n.c.depth)
        .subquery("chosen")
    )
    via = t.column_edges.alias("via")
    return (
        select(
            chosen.c.ds,
            t.datasets.c.namespace,
            t.datasets.c.name,
            chosen.c.field,
            chosen.c.direct,
            chosen.c.depth,
            via.c.in_dataset_id.label("pred_ds"),
            via.c.in_field.label("pred_field"),
            (1 - chosen.c.key // limit).label("pred_direct"),
            cast(via.c.transformations, Text).label("transformations"),
            chosen.c.job,
            t.jobs.c.namespace.label("job_ns"),
            t.jobs.c.name.label("job_name"),
            chosen.c.jobs,
            *(
                facet(dialect, t.datasets.c.facets, k).label(f"d{i}")
                for i, k in enumerate(facet_keys)
            ),
            *(facet(dialect, t.jobs.c.facets, k).label(f"j{i}") for i, k in enumerate(facet_keys)),
        )
        .select_from(
            chosen.join(t.datasets, t.datasets.c.id == chosen.c.ds)
            .outerjoin(via, via.c.id == chosen.c.key % limit)
            .outerjoin(t.jobs, t.jobs.c.id == chosen.c.job)
        )
        .order_by(chosen.c.depth)
    )


def jobs_reached(
    start_dataset: int | None,
    start_job: int | None,
    depth: int,
    upstream: bool,
    as_of: datetime | None,
) -> Select[Any]:
    """The jobs within ``depth`` of a dataset or job, with every input and output of their version.

    Downstream, a job is reached when its version reads a dataset reached (the start is a
    dataset at hop 0, or the outputs of the start job are), and the datasets it writes are
    reached one hop further; a job is followed when it reads a dataset reached at a hop below
    ``depth``, so the jobs are at most ``depth`` hops away. Upstream likewise, from the datasets
    a version writes to the datasets it reads. The start job itself is part of the answer.

    Rows, ordered by job: ``job, job_ns, job_name, direction, namespace, name`` (one per input
    or output of the job's version; a job whose version has none comes with NULLs).
    """
    source, version = job_versions(as_of)
    io = t.job_version_io
    near, far = ("out", "in") if upstream else ("in", "out")
    if start_job is not None:
        start_version = select(version).select_from(source).where(t.jobs.c.id == start_job)
        seed = select(io.c.dataset_id.label("ds"), literal(0, Integer).label("hop")).where(
            io.c.job_version_id.in_(start_version.scalar_subquery()), io.c.direction == far
        )
    else:
        seed = select(
            cast(literal(start_dataset), t.datasets.c.id.type).label("ds"),
            literal(0, Integer).label("hop"),
        )
    reach = seed.cte("reach", recursive=True)
    r = reach.alias("r")
    step_in, step_out = io.alias("step_in"), io.alias("step_out")
    step = (
        select(step_out.c.dataset_id, r.c.hop + 1)
        .select_from(
            r.join(step_in, and_(step_in.c.dataset_id == r.c.ds, step_in.c.direction == near))
            .join(source, version == step_in.c.job_version_id)
            .join(
                step_out,
                and_(
                    step_out.c.job_version_id == step_in.c.job_version_id,
                    step_out.c.direction == far,
                ),
            )
        )
        .where(r.c.hop < depth)
    )
    if start_dataset is not None:  # the start is never re-entered
        step = step.where(step_out.c.dataset_id != start_dataset)
    reach = reach.union(step)
    touch = io.alias("touch")
    reached = (
        select(t.jobs.c.id.label("job"), version.label("version"))
        .select_from(
            reach.join(
                touch, and_(touch.c.dataset_id == reach.c.ds, touch.c.direction == near)
            ).join(source, version == touch.c.job_version_id)
        )
        .where(reach.c.hop < depth)
    )
    if start_job is not None:
        itself = select(t.jobs.c.id, version).select_from(source).where(t.jobs.c.id == start_job)
        jobs = reached.where(t.jobs.c.id != start_job).union(itself).subquery("reached")
    else:
        jobs = reached.distinct().subquery("reached")
    edges = io.alias("edges")
    return (
        select(
            jobs.c.job,
            t.jobs.c.namespace.label("job_ns"),
            t.jobs.c.name.label("job_name"),
            edges.c.direction,
            t.datasets.c.namespace,
            t.datasets.c.name,
        )
        .select_from(
            jobs.join(t.jobs, t.jobs.c.id == jobs.c.job)
            .outerjoin(edges, edges.c.job_version_id == jobs.c.version)
            .outerjoin(t.datasets, t.datasets.c.id == edges.c.dataset_id)
        )
        .order_by(jobs.c.job, t.datasets.c.namespace, t.datasets.c.name)
    )


# Positions in the rows of column_downstream.
_TRANSFORMATIONS, _JOB, _JOBS, _FACETS = 9, 10, 13, 14


def present(keys: Sequence[str], values: Sequence[Any]) -> Json:
    """``{key: value}`` for the facets a node has (an extracted facet is None when absent)."""
    return {k: v for k, v in zip(keys, values, strict=True) if v is not None}


def row_jobs(
    rows: Sequence[Any], keys: Sequence[str], found: dict[DatasetId | JobId, Json]
) -> tuple[dict[int, JobId], set[int]]:
    """The jobs named in the rows of :func:`column_downstream`, by id, and the ids left to name.

    The facets (of ``keys``) that the named jobs have go into ``found``.
    """
    jobs: dict[int, JobId] = {}
    listed: set[int] = set()
    first = _FACETS + len(keys)
    for row in rows:
        job_id = row[_JOB]
        if job_id is None:
            if row[_JOBS]:
                listed.update(map(int, row[_JOBS].split(",")))
        elif job_id not in jobs:
            jobs[job_id] = job = JobId(row[_JOB + 1], row[_JOB + 2])
            values = row[first : first + len(keys)]
            if any(v is not None for v in values):
                found[job] = present(keys, values)
    return jobs, listed.difference(jobs)


def column_states(
    dataset: DatasetId,
    field: str,
    dataset_pk: int,
    rows: Sequence[Any],
    jobs: dict[int, JobId],
    keys: Sequence[str],
    found: dict[DatasetId | JobId, Json],
) -> list[ReachedColumn]:
    """The rows of :func:`column_downstream` as states, ``via`` resolved to list positions.

    The facets (of ``keys``) that the datasets reached have go into ``found``.
    """
    datasets: dict[int, DatasetId] = {dataset_pk: dataset}
    decoded: dict[str, tuple[Json, ...]] = {}  # edges share few distinct transformation lists

    def jobs_of(row: Any) -> tuple[JobId, ...]:
        if row[_JOB] is not None:
            return (jobs[row[_JOB]],)
        if not row[_JOBS]:
            return ()
        return tuple(sorted({jobs[int(j)] for j in row[_JOBS].split(",")}))

    index: dict[tuple[int, str, int], int] = {(dataset_pk, field, 1): 0}
    states = [ReachedColumn(dataset, field, 0, True, None, (), ())]
    width = len(keys)
    for row in rows:
        ds_pk, namespace, name, column, direct, depth = row[:6]
        if depth == 0:  # the start, with the jobs of edges back into it
            states[0] = ReachedColumn(dataset, field, 0, True, None, (), jobs_of(row))
            continue
        ds = datasets.get(ds_pk)
        if ds is None:
            ds = datasets[ds_pk] = DatasetId(namespace, name)
            values = row[_FACETS : _FACETS + width]
            if width and any(v is not None for v in values):
                found[ds] = present(keys, values)
        text = row[_TRANSFORMATIONS] or "[]"
        steps = decoded.get(text)
        if steps is None:
            steps = decoded[text] = tuple(orjson.loads(text))
        index[(ds_pk, column, direct)] = len(states)
        states.append(
            ReachedColumn(
                ds,
                column,
                depth,
                direct == 1,
                index[(row[6], row[7], row[8])],
                steps,
                jobs_of(row),
            )
        )
    return states


def table_edges(rows: Sequence[Any]) -> list[TableEdges]:
    """The rows of :func:`jobs_reached` as one :class:`TableEdges` per job."""
    datasets: dict[tuple[str, str], DatasetId] = {}
    result: list[TableEdges] = []
    current: int | None = None
    job = JobId("", "")
    inputs: list[DatasetId] = []
    outputs: list[DatasetId] = []
    for job_pk, job_ns, job_name, direction, namespace, name in rows:
        if job_pk != current:
            if current is not None:
                result.append(TableEdges(job, tuple(inputs), tuple(outputs)))
            current, job, inputs, outputs = job_pk, JobId(job_ns, job_name), [], []
        if direction is None:
            continue  # a version with no inputs or outputs
        key = (namespace, name)
        ds = datasets.get(key)
        if ds is None:
            ds = datasets[key] = DatasetId(namespace, name)
        (inputs if direction == "in" else outputs).append(ds)
    if current is not None:
        result.append(TableEdges(job, tuple(inputs), tuple(outputs)))
    return result
