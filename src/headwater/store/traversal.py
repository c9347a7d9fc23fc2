"""Set-based traversals: graph walks that run in the database as one recursive CTE each.

The per-level walks of :mod:`headwater.graph` send one query per level and rebuild the frontier in
Python; for a hub with tens of thousands of descendants the round trips, row decoding and object
construction dominate. The statements here walk the whole graph in one ``WITH RECURSIVE`` query
(SQLAlchemy Core, bind parameters only) and return one row per node reached, with what callers
need to rebuild paths. Each statement is built once per shape and cached: building it took longer
than running it on a small graph.

Each walk follows only the job versions current now, or as of a time (the version of each job's
latest run started at or before it: :func:`job_versions`). Walks are cycle-safe and bounded: a row
carries its depth, the recursion follows rows below the requested depth only, and ``UNION`` (not
``UNION ALL``) drops a row already produced, so a cycle adds at most one row per edge and depth.

Plans must not depend on how many rows a recursive CTE holds, which neither database can estimate:
the CTE's rows only ever drive index look-ups into base tables (never a join with another CTE),
SQLite is told the working table is small (:func:`few`), and PostgreSQL walks run without JIT
(``SqlStore._plan_walk``). Dialect differences are the JSON helpers (:func:`has_direct`,
:func:`facet`) and that planner hint.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB

from headwater.model.nodes import DatasetId, JobId
from headwater.store import schema as t
from headwater.store.base import Json, ReachedColumn, TableEdges
from headwater.store.bulk import among

_EDGE_ID_LIMIT = 1 << 40  # column edge ids stay below this (a trillion edges)


def job_versions(as_of: datetime | BindParameter[datetime] | None) -> tuple[Any, Any]:
    """``(from clause with the jobs table, version id column)``: each job's current or as-of version.

    Now: the ``jobs`` table itself (its ``current_version_id`` index serves the joins). As of a
    time (a value, or a bind parameter for a statement built once): ``jobs`` joined to a CTE of
    the version of each job's latest run started at or before it, computed once per statement
    however often the walk joins it.
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
    # MATERIALIZED: computed once; SQLite otherwise inlined it into the walk, once per row
    versions = (
        select(ranked.c.job_id, ranked.c.version_id)
        .where(ranked.c.rn == 1)
        .cte("versions")
        .prefix_with("MATERIALIZED")
    )
    return t.jobs.join(versions, versions.c.job_id == t.jobs.c.id), versions.c.version_id


def has_direct(dialect: str, edges: Any) -> ColumnElement[bool]:
    """Whether a column edge has a DIRECT transformation (any of them, not just the first): the
    SQL form of :func:`headwater.model.is_direct`.

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


def few(dialect: str, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """``condition``, marked for SQLite's planner as true for few rows of a recursive CTE.

    SQLite cannot tell how many rows a recursive CTE's working table holds; with statistics
    (``ANALYZE``) it guessed many and built a Bloom filter over the whole edge table for every
    walk, a fixed ~8 ms that made small walks slower than one query per level. PostgreSQL plans
    the recursive term row by row anyway.
    """
    return func.likelihood(condition, literal_column("0.001")) if dialect == "sqlite" else condition


def facet(dialect: str, facets: Any, key: str) -> Any:
    """One facet out of a ``facets`` JSON column (NULL when absent).

    On SQLite the JSON is text, and extracting from it parses the whole document; most
    documents lack the facet asked for (ownership, say), so a substring test skips them first.
    """
    value = facets[key]
    if dialect == "postgresql" or any(c in key for c in '"\\') or not key.isprintable():
        return value
    return case((func.instr(facets, f'"{key}"') > 0, value))


@functools.cache
def column_downstream(dialect: str, as_of: bool, facet_keys: tuple[str, ...]) -> Select[Any]:
    """Every field downstream of a field within a depth, with its breadth-first tree.

    Built once per dialect, as-of or not, and facets asked for (building the statement cost more
    than running it on a small graph); its bind parameters are ``start_ds`` (the dataset's
    primary key), ``start_field``, ``depth`` and, with ``as_of``, ``as_of``.

    A *state* is a field plus whether every edge on the way was DIRECT (``direct`` 1/0). A row
    of the recursion is an edge followed: the state it reaches, at a depth, and the state and
    edge it came from; rows are followed from states below ``depth``, never from the start
    again (edges back into it are kept, for their jobs). Each state keeps its smallest depth and,
    at that depth, the edge from a DIRECT predecessor if there is one, else the edge recorded
    first; its jobs are those of every edge into it the walk followed. The grouping reads only
    the recursion's rows, and every join after it looks rows up by primary key, so no plan
    depends on how many rows the database guesses a recursive CTE holds: joining two CTEs made
    PostgreSQL, once it had statistics, compare every pair of rows (45 s instead of 0.3 s).

    Rows, ordered by depth: ``ds, namespace, name, field, direct, depth, pred_ds, pred_field,
    pred_direct, transformations`` (of the edge from the predecessor, as JSON text), ``job,
    job_ns, job_name`` (when one job leads into the state) or ``jobs`` (when several do: their
    ids joined by commas, repeats possible), then the facets named by ``facet_keys`` of the
    dataset (``d0, d1, ...``) and of the job (``j0, j1, ...``). The start's own rows (edges
    back into it) come with depth > 0 and are only there for their jobs.
    """
    source, version = job_versions(bindparam("as_of", type_=t.Time) if as_of else None)
    start_ds = bindparam("start_ds", type_=t.datasets.c.id.type)
    start_field = bindparam("start_field", type_=Text)
    depth = bindparam("depth", type_=Integer)
    ce = t.column_edges
    no_id = cast(null(), t.datasets.c.id.type)
    # The casts give the CTE's columns their table types: SQLite compares an untyped column
    # with an indexed INTEGER or TEXT one without using the index (seconds instead of ms).
    seed = select(
        cast(start_ds, t.datasets.c.id.type).label("ds"),
        cast(start_field, Text).label("field"),
        literal(1, Integer).label("direct"),
        literal(0, Integer).label("depth"),
        no_id.label("pred_ds"),
        cast(null(), Text).label("pred_field"),
        cast(null(), Integer).label("pred_direct"),
        no_id.label("edge"),
        no_id.label("job"),
    ).cte("reach", recursive=True)
    r = seed.alias("r")
    step = (
        select(
            ce.c.out_dataset_id,
            ce.c.out_field,
            case((and_(r.c.direct == 1, has_direct(dialect, ce)), 1), else_=0),
            r.c.depth + 1,
            r.c.ds,
            r.c.field,
            r.c.direct,
            ce.c.id,
            t.jobs.c.id,
        )
        .select_from(
            r.join(ce, and_(ce.c.in_dataset_id == r.c.ds, ce.c.in_field == r.c.field)).join(
                source, version == ce.c.job_version_id
            )
        )
        .where(
            few(dialect, r.c.depth < depth),
            ce.c.out_field != "",  # '' holds dataset-level dependencies
            or_(r.c.depth == 0, r.c.ds != start_ds, r.c.field != start_field),
        )
    )
    reach = seed.union(step)  # UNION: a row already produced is not produced again
    # Smallest depth first, then a DIRECT predecessor, then the first edge: the min of one
    # integer (an aggregate rather than a window function, so nothing is sorted).
    shift = literal(_EDGE_ID_LIMIT, BigInteger)
    key = (reach.c.depth * 2 + (1 - reach.c.pred_direct)) * shift + reach.c.edge
    one_job = func.min(reach.c.job) == func.max(reach.c.job)
    chosen = (
        select(
            reach.c.ds,
            reach.c.field,
            reach.c.direct,
            func.min(key).label("key"),
            case((one_job, func.min(reach.c.job))).label("job"),
            case((one_job, None), else_=func.aggregate_strings(cast(reach.c.job, Text), ",")).label(
                "jobs"
            ),
        )
        .where(reach.c.depth > 0)
        .group_by(reach.c.ds, reach.c.field, reach.c.direct)
        .subquery("chosen")
    )
    via = t.column_edges.alias("via")
    found_at = chosen.c.key // (shift * 2)
    return (
        select(
            chosen.c.ds,
            t.datasets.c.namespace,
            t.datasets.c.name,
            chosen.c.field,
            chosen.c.direct,
            found_at.label("depth"),
            via.c.in_dataset_id.label("pred_ds"),
            via.c.in_field.label("pred_field"),
            (1 - (chosen.c.key // shift) % 2).label("pred_direct"),
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
            .join(via, via.c.id == chosen.c.key % shift)
            .outerjoin(t.jobs, t.jobs.c.id == chosen.c.job)
        )
        .order_by(found_at)
    )


@functools.cache
def jobs_reached(dialect: str, from_job: bool, upstream: bool, as_of: bool) -> Select[Any]:
    """The jobs within a depth of a dataset or job, with every input and output of their version.

    Built once per dialect, kind of start, direction and as-of or not; its bind parameters are ``start``
    (the dataset's or job's primary key), ``depth`` and, with ``as_of``, ``as_of``.

    Downstream, a job is reached when its version reads a dataset reached (the start is a
    dataset at hop 0, or the outputs of the start job are), and the datasets it writes are
    reached one hop further; a job is followed when it reads a dataset reached at a hop below
    ``depth``, so the jobs are at most ``depth`` hops away. Upstream likewise, from the datasets
    a version writes to the datasets it reads. The start job itself is part of the answer.

    Rows, ordered by job: ``job, job_ns, job_name, direction, namespace, name`` (one per input
    or output of the job's version; a job whose version has none comes with NULLs).
    """
    source, version = job_versions(bindparam("as_of", type_=t.Time) if as_of else None)
    depth = bindparam("depth", type_=Integer)
    start = bindparam("start", type_=t.datasets.c.id.type)
    io = t.job_version_io
    near, far = ("out", "in") if upstream else ("in", "out")
    no_version = cast(null(), t.job_versions.c.id.type).label("version")
    if from_job:
        start_version = select(version).select_from(source).where(t.jobs.c.id == start)
        seed = select(
            io.c.dataset_id.label("ds"), literal(0, Integer).label("hop"), no_version
        ).where(io.c.job_version_id.in_(start_version.scalar_subquery()), io.c.direction == far)
    else:
        seed = select(
            cast(start, t.datasets.c.id.type).label("ds"),
            literal(0, Integer).label("hop"),
            no_version,
        )
    # A row is a dataset reached at a hop by the version that reached it (the walk's edges), so
    # the jobs reached are read off the rows; a version without outputs (inputs, upstream) still
    # gets its row, with no dataset. Only rows below the depth are followed, and never the start.
    reach = seed.cte("reach", recursive=True)
    r = reach.alias("r")
    step_in, step_out = io.alias("step_in"), io.alias("step_out")
    followed = [few(dialect, r.c.hop < depth), r.c.ds.is_not(None)]
    if not from_job:
        followed.append(or_(r.c.hop == 0, r.c.ds != start))
    step = (
        select(step_out.c.dataset_id, r.c.hop + 1, step_in.c.job_version_id)
        .select_from(
            r.join(step_in, and_(step_in.c.dataset_id == r.c.ds, step_in.c.direction == near))
            .join(source, version == step_in.c.job_version_id)
            .outerjoin(
                step_out,
                and_(
                    step_out.c.job_version_id == step_in.c.job_version_id,
                    step_out.c.direction == far,
                ),
            )
        )
        .where(*followed)
    )
    reach = reach.union(step)
    # The distinct versions reached drive the rest through indexes: version -> job, version ->
    # inputs and outputs -> dataset. (Starting from the jobs, PostgreSQL, which cannot tell how
    # few rows a recursive CTE holds, scanned the jobs, inputs/outputs and datasets tables.)
    versions_reached: Any = select(reach.c.version.label("version")).where(
        reach.c.version.is_not(None)
    )
    if from_job:  # the start job itself, however the walk went
        itself = select(version.label("version")).select_from(source).where(t.jobs.c.id == start)
        versions_reached = versions_reached.union(itself)
    else:
        versions_reached = versions_reached.distinct()
    reached = versions_reached.subquery("reached")
    edges = io.alias("edges")
    return (
        select(
            t.jobs.c.id.label("job"),
            t.jobs.c.namespace.label("job_ns"),
            t.jobs.c.name.label("job_name"),
            edges.c.direction,
            t.datasets.c.namespace,
            t.datasets.c.name,
        )
        .select_from(
            reached.join(source, version == reached.c.version)
            .outerjoin(edges, edges.c.job_version_id == reached.c.version)
            .outerjoin(t.datasets, t.datasets.c.id == edges.c.dataset_id)
        )
        .order_by(t.jobs.c.id, t.datasets.c.namespace, t.datasets.c.name)
    )


def ids_in(dialect: str, column: Any) -> ColumnElement[bool]:
    """``column IN (ids)`` for any number of keys (integers, or text such as run ids) in one bind
    parameter, ``ids`` (pass :func:`id_list` of them): no statement to rebuild per list size, no
    placeholder per key, and one round trip.

    SQLite reads the keys from a JSON array (``json_each``), PostgreSQL from an array (``ANY``,
    :func:`headwater.store.bulk.among`).
    """
    if dialect == "postgresql":
        return among(column, "ids", arrays=True)
    each = func.json_each(bindparam("ids", type_=Text)).table_valued("value")
    return column.in_(select(each.c.value))


def id_list(dialect: str, ids: Iterable[int] | Iterable[str]) -> Any:
    """The value of the ``ids`` parameter of :func:`ids_in`."""
    values = sorted(ids)
    return values if dialect == "postgresql" else orjson.dumps(values).decode()


def current_column_edges(for_jobs: bool) -> Select[Any]:
    """The column edges of every job's current version (not dataset-level ones), as the
    in-memory index loads them (:class:`headwater.store.column_index.ColumnIndex`): ``id,
    in_dataset_id, in_field, out_dataset_id, out_field, job, type, transformations`` (JSON
    text); with ``for_jobs``, only of the jobs in the expanding bind parameter ``jobs``."""
    ce = t.column_edges
    query = (
        select(
            ce.c.id,
            ce.c.in_dataset_id,
            ce.c.in_field,
            ce.c.out_dataset_id,
            ce.c.out_field,
            t.jobs.c.id,
            ce.c.type,
            cast(ce.c.transformations, Text),
        )
        .select_from(ce.join(t.jobs, t.jobs.c.current_version_id == ce.c.job_version_id))
        .where(ce.c.out_field != "")
    )
    if for_jobs:
        query = query.where(t.jobs.c.id.in_(bindparam("jobs", expanding=True)))
    return query


def jobs_logged_between() -> Select[Any]:
    """The jobs named by the events logged after id ``after`` up to id ``upto`` (bind parameters):
    the only jobs whose current version or its edges projecting those events can change."""
    e = t.events.c
    return (
        select(t.jobs.c.id)
        .select_from(
            t.events.join(
                t.jobs, and_(t.jobs.c.namespace == e.job_namespace, t.jobs.c.name == e.job_name)
            )
        )
        .where(e.id > bindparam("after"), e.id <= bindparam("upto"))
        .distinct()
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


def reached_rows(
    rows: Sequence[Any], keys: Sequence[str], found: dict[DatasetId | JobId, Json]
) -> tuple[list[tuple[Any, ...]], dict[int, DatasetId]]:
    """The rows of :func:`column_downstream` in the layout of the in-memory index's walk
    (:class:`headwater.store.column_index.Reached`), and the datasets they name by primary key.

    The facets (of ``keys``) that the datasets reached have go into ``found``.
    """
    datasets: dict[int, DatasetId] = {}
    width = len(keys)
    reached = []
    for row in rows:
        ds_pk = row[0]
        if ds_pk not in datasets:
            datasets[ds_pk] = ds = DatasetId(row[1], row[2])
            values = row[_FACETS : _FACETS + width]
            if width and any(v is not None for v in values):
                found[ds] = present(keys, values)
        # field, direct, depth, pred_ds, pred_field, pred_direct, transformations; jobs
        reached.append((ds_pk, *row[3 : _TRANSFORMATIONS + 1], row[_JOB], row[_JOBS]))
    return reached, datasets


def column_states(
    dataset: DatasetId,
    field: str,
    dataset_pk: int,
    reached: Sequence[Sequence[Any]],
    datasets: dict[int, DatasetId],
    jobs: dict[int, JobId],
) -> list[ReachedColumn]:
    """A walk's rows (in :class:`headwater.store.column_index.Reached` layout) as states, ``via``
    resolved to list positions, in the same order whichever walk found them: by depth
    (predecessors first), then dataset namespace and name, field, INDIRECT before DIRECT.

    ``datasets`` and ``jobs`` name the primary keys the rows hold.
    """
    decoded: dict[str, tuple[Json, ...]] = {}  # edges share few distinct transformation lists

    def jobs_of(job: int | None, listed: str | None) -> tuple[JobId, ...]:
        if job is not None:
            return (jobs[job],)
        if not listed:
            return ()
        return tuple(sorted({jobs[int(j)] for j in listed.split(",")}))

    index: dict[tuple[int, str, int], int] = {(dataset_pk, field, 1): 0}
    first_state: dict[tuple[int, str], int] = {}  # a field's first state, to share its jobs
    states = [ReachedColumn(dataset, field, 0, True, None, (), ())]

    def order(row: Sequence[Any]) -> tuple[Any, ...]:
        named = datasets[row[0]]
        return (row[3], named.namespace, named.name, row[1], row[2])

    for ds_pk, column, direct, depth, pred_ds, pred_field, pred_direct, text, job, listed in sorted(
        reached, key=order
    ):
        if ds_pk == dataset_pk and column == field:  # edges back into the start: their jobs
            merged = tuple(sorted({*states[0].jobs, *jobs_of(job, listed)}))
            states[0] = states[0]._replace(jobs=merged)
            continue
        text = text or "[]"
        steps = decoded.get(text)
        if steps is None:
            steps = decoded[text] = tuple(orjson.loads(text))
        index[(ds_pk, column, direct)] = len(states)
        state = ReachedColumn(
            datasets[ds_pk],
            column,
            depth,
            direct == 1,
            index[(pred_ds, pred_field, pred_direct)],
            steps,
            jobs_of(job, listed),
        )
        other = first_state.setdefault((ds_pk, column), len(states))
        if other != len(states):  # the field's other state: both list the jobs of either
            merged = tuple(sorted({*states[other].jobs, *state.jobs}))
            states[other] = states[other]._replace(jobs=merged)
            state = state._replace(jobs=merged)
        states.append(state)
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
