"""Row-level root cause: from bad rows of a dataset back to the source rows that produced them.

For each hop, the producing job's recorded SQL is rewritten with sqlglot (never by pasting text):
the output's keys (GROUP BY keys, or else its first column copied as is) of the bad rows are pushed
down as an ``IN`` filter, grouping and ordering are dropped, and each input's own columns are
selected. The rewritten query runs in DuckDB over the exact Iceberg snapshots the run read (its
``version`` facets), not the tables' current state. Inputs that another job produced are traced in
turn. At the sources, conditions over the columns that feed the bad column are compared (column
pairs such as ``cost > price``, nulls, negative or zero values, one value of a categorical column):
the one that holds for the contributing rows far more often than for all rows is reported as the
root cause. A UNION is traced branch by branch. Window functions, INTERSECT / EXCEPT and set
operations nested inside a SELECT cannot be inverted this way; such a hop is reported and the trace
stops there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import permutations
from typing import Any, Protocol

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from headwater.analysis.impact import impact
from headwater.graph import column_lineage, lineage
from headwater.model.nodes import DatasetId, FieldId, JobId
from headwater.model.transformations import is_direct
from headwater.store.base import LineageStore, NotFound


class TraceError(ValueError):
    """A trace that cannot start (bad filter, unknown column, no recorded SQL)."""


class DataReader(Protocol):
    """Reads a dataset's rows as they were at a version (e.g. an Iceberg snapshot)."""

    def read(self, dataset: dict[str, Any], snapshot: str | None) -> pa.Table:
        """The rows of ``dataset`` (a Marquez Dataset dict) at ``snapshot`` (None: current)."""
        ...


def register_view(con: duckdb.DuckDBPyConnection, name: str, data: pa.Table, n: int) -> None:
    """Make Arrow ``data`` readable in ``con`` as the view ``name`` (the ``n``-th registered):
    how a rewritten step's SQL finds its inputs under the names it uses."""
    con.register(f"__in_{n}", data)
    con.execute(
        exp.Create(
            this=exp.to_table(name),
            kind="VIEW",
            expression=exp.select("*").from_(f"__in_{n}"),
            replace=True,
        ).sql(dialect="duckdb")
    )


@dataclass
class Hop:
    """Rows of one dataset that contributed to the bad rows."""

    dataset: str
    rows: int
    total: int
    job: str | None
    sample: list[dict[str, Any]]
    note: str | None = None


@dataclass
class TraceReport:
    """The trace: each hop's contributing rows and, at the sources, the root cause found in the data."""

    dataset: str
    where: str
    bad_rows: int
    hops: list[Hop] = field(default_factory=list)
    root_causes: list[str] = field(default_factory=list)
    failing_checks: list[str] = field(default_factory=list)
    blast_radius: list[str] = field(default_factory=list)
    owners_to_warn: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "dataset": self.dataset,
            "where": self.where,
            "badRows": self.bad_rows,
            "hops": [hop.__dict__ for hop in self.hops],
            "rootCauses": self.root_causes,
            "failingChecks": self.failing_checks,
            "blastRadius": self.blast_radius,
            "ownersToWarn": self.owners_to_warn,
        }


def _short(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1]


def _where(text: str) -> exp.Expr:
    try:
        parsed = sqlglot.parse_one(text, read="duckdb", into=exp.Condition)
    except ParseError as exc:
        msg = f"--where {text!r} is not a SQL condition: {str(exc).splitlines()[0]}"
        raise TraceError(msg) from None
    return parsed


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _branches(query: exp.Expr) -> list[exp.Select] | None:
    """The SELECTs of a step: itself, or every branch of a UNION (None: not invertible)."""
    if isinstance(query, exp.Select):  # a set operation nested in it hides its inputs' rows
        return None if query.find(exp.SetOperation) else [query]
    if isinstance(query, exp.Union):
        left, right = _branches(query.left), _branches(query.right)
        return None if left is None or right is None else left + right
    return None  # INTERSECT / EXCEPT keep or drop rows by what another branch holds


def bad_rows_condition(where: str | None, keys: list[str] | tuple[str, ...] = ()) -> str:
    """One SQL condition from ``--where`` and ``--key column=value`` pairs (ANDed), built with sqlglot.

    A value that reads as a number is compared as a number, anything else as a quoted string.

    Raises:
        TraceError: neither given, a key without ``=``, or a ``where`` that does not parse.
    """
    parts: list[exp.Expr] = [_where(where)] if where else []
    for key in keys:
        column, sep, value = key.partition("=")
        if not sep or not column.strip():
            msg = f"--key takes column=value, not {key!r}"
            raise TraceError(msg)
        try:
            float(value)
            literal: exp.Expr = exp.Literal.number(value.strip())
        except ValueError:
            literal = exp.Literal.string(value)
        parts.append(exp.EQ(this=exp.column(column.strip(), quoted=True), expression=literal))
    if not parts:
        msg = "say which rows are bad: --where CONDITION and/or --key column=value"
        raise TraceError(msg)
    return (
        exp.and_(*parts).sql(dialect="duckdb") if len(parts) > 1 else parts[0].sql(dialect="duckdb")
    )


def _filter_rows(table: pa.Table, where: exp.Expr) -> pa.Table:
    missing = {c.name for c in where.find_all(exp.Column)} - set(table.column_names)
    if missing:
        msg = f"--where refers to unknown column(s) {', '.join(sorted(missing))}; columns: {', '.join(table.column_names)}"
        raise TraceError(msg)
    con = duckdb.connect()
    con.register("t", table)
    query = exp.select("*").from_("t").where(where.copy())
    result = con.sql(query.sql(dialect="duckdb")).to_arrow_table()
    con.close()
    return result


class Tracer:
    """Trace bad rows upstream over ``store`` (lineage) and ``reader`` (data)."""

    def __init__(
        self,
        store: LineageStore,
        reader: DataReader,
        max_hops: int = 10,
        as_of: datetime | None = None,
    ) -> None:
        self.store = store
        self.reader = reader
        self.max_hops = max_hops
        self.as_of = as_of

    def _run_of(self, job: dict[str, Any]) -> dict[str, Any] | None:
        """The run to trace: the job's latest, or with ``as_of`` its last completed run by then."""
        if self.as_of is None:
            run: dict[str, Any] | None = job.get("latestRun")
            return run
        runs = self.store.list_runs(JobId(job["namespace"], job["name"]), limit=200)[0]
        for run in runs:  # newest first
            started = run.get("startedAt") or run.get("createdAt")
            if run.get("state") == "COMPLETED" and started and _time(started) <= self.as_of:
                return run
        return None

    def _read(self, dataset: DatasetId, data: dict[str, Any]) -> pa.Table:
        """The dataset's rows now, or with ``as_of`` at its last version by then."""
        if self.as_of is None:
            return self.reader.read(data, None)
        for version in self.store.list_dataset_versions(dataset, limit=500)[0]:  # newest first
            if version.get("createdAt") and _time(version["createdAt"]) <= self.as_of:
                return self.reader.read(data, version.get("datasetVersionFacet"))
        msg = f"{_short(dataset.name)} has no version as of {self.as_of.isoformat()}"
        raise TraceError(msg)

    def _producer(self, dataset: DatasetId) -> tuple[dict[str, Any], dict[str, Any], str] | None:
        """(job, run, sql) of the job that last wrote ``dataset``, if Headwater knows its SQL."""
        for edges in self.store.jobs_touching([dataset], "out", self.as_of):
            job = self.store.get_job(edges.job)
            run = self._run_of(job)
            if not run:
                continue
            versions = self.store.list_job_versions(edges.job, limit=50)[0]
            version = next(
                (v for v in versions if v["version"] == run["jobVersion"]["version"]), None
            )
            sql = ((version or {}).get("facets") or {}).get("sql", {}).get("query")
            if sql:
                return job, self.store.get_run(run["id"]), sql
        return None

    def trace(self, dataset: DatasetId, where: str, limit: int = 5) -> TraceReport:
        """Trace the rows of ``dataset`` matching ``where`` to their source rows."""
        condition = _where(where)
        data = self.store.get_dataset(dataset)
        current = self._read(dataset, data)
        bad = _filter_rows(current, condition)
        report = TraceReport(_short(dataset.name), where, bad.num_rows)
        self._checks_and_blast_radius(dataset, report)
        if bad.num_rows == 0:
            return report
        bad_columns = {c.name for c in condition.find_all(exp.Column)}
        feeding = self._feeding_columns(dataset, bad_columns)
        self._hop(dataset, data, bad, report, limit, feeding, 0)
        return report

    def _checks_and_blast_radius(self, dataset: DatasetId, report: TraceReport) -> None:
        """Upstream datasets whose latest checks failed; what is downstream and whom to warn."""
        upstream = lineage(self.store, dataset, 20, "upstream", self.as_of, lean=True)["graph"]
        datasets = [
            DatasetId(n["data"]["namespace"], n["data"]["name"])
            for n in upstream
            if n["type"] == "DATASET"
        ]
        for ds, results in sorted(self.store.quality_results(datasets).items()):
            for r in results:
                if not r["success"]:
                    report.failing_checks.append(
                        f"{_short(ds.name)}: {r['assertion']} failed at {r['eventTime']} (run {r['runId']})"
                    )
        downstream = impact(self.store, dataset, as_of=self.as_of)
        report.blast_radius = [
            f"{_short(a.dataset.name)} (depth {a.depth})" for a in downstream.affected
        ]
        report.owners_to_warn = downstream.owners

    def _feeding_columns(self, dataset: DatasetId, columns: set[str]) -> dict[str, set[str]]:
        """Columns that DIRECT-feed the filtered columns, transitively: {dataset name: {column}}."""
        out: dict[str, set[str]] = {}
        for column in sorted(columns):
            graph = {
                n["id"]: n
                for n in column_lineage(
                    self.store, FieldId(dataset, column), depth=20, as_of=self.as_of
                )["graph"]
            }
            frontier = [FieldId(dataset, column).node_id()]
            seen = set(frontier)
            while frontier:
                node = graph.get(frontier.pop())
                for inp in node["data"]["inputFields"] if node else []:
                    if not is_direct(inp["transformations"]):
                        continue
                    out.setdefault(inp["dataset"], set()).add(inp["field"])
                    nid = FieldId(
                        DatasetId(inp["namespace"], inp["dataset"]), inp["field"]
                    ).node_id()
                    if nid not in seen:
                        seen.add(nid)
                        frontier.append(nid)
        return out

    def _hop(
        self,
        dataset: DatasetId,
        data: dict[str, Any],
        rows: pa.Table,
        report: TraceReport,
        limit: int,
        feeding: dict[str, set[str]],
        depth: int,
    ) -> None:
        producer = self._producer(dataset) if depth < self.max_hops else None
        if producer is None:
            self._root_cause(dataset, rows, self.reader.read(data, None), report, feeding)
            return
        job, run, sql = producer
        inputs = {
            (v["datasetVersionId"]["namespace"], v["datasetVersionId"]["name"]): v[
                "datasetVersionId"
            ]["version"]
            for v in run["inputDatasetVersions"]
        }
        try:
            query = sqlglot.parse_one(sql, read="duckdb")
        except ParseError as exc:
            report.hops.append(
                Hop(
                    _short(dataset.name),
                    rows.num_rows,
                    rows.num_rows,
                    job["name"],
                    [],
                    f"recorded SQL does not parse: {exc}",
                )
            )
            return
        branches = _branches(query)
        if branches is None or query.find(exp.Window):
            # fall back to column level: the input columns that feed the bad columns
            sources = sorted(
                f"{_short(name)}.{column}"
                for (_, name) in inputs
                for column in feeding.get(name, ())
            )
            note = (
                "cannot invert this step (window functions, INTERSECT / EXCEPT, or nested set "
                "operations); "
                "traced at column level only"
                + (f": the bad columns come from {', '.join(sources)}" if sources else "")
            )
            report.hops.append(
                Hop(_short(dataset.name), rows.num_rows, rows.num_rows, job["name"], [], note)
            )
            return
        con = duckdb.connect()
        tables: dict[str, tuple[DatasetId, dict[str, Any]]] = {}
        for (ns, name), version in inputs.items():
            ds_id = DatasetId(ns, name)
            ds = self.store.get_dataset(ds_id)
            snapshot = (
                self.store.get_dataset_version(ds_id, version).get("datasetVersionFacet")
                if version
                else None
            )
            short = _short(name).split(".")[-1]
            register_view(con, short, self.reader.read(ds, snapshot), len(tables))
            tables[short] = (ds_id, ds)
        for branch in branches:
            # a UNION's output columns are its first branch's, by position: rename for this branch
            names = [p.alias_or_name for p in branch.selects]
            branch_rows = rows.rename_columns(names) if len(names) == rows.num_columns else rows
            self._hop_select(branch, branch_rows, tables, con, job, report, limit, feeding, depth)
        con.close()

    def _hop_select(
        self,
        query: exp.Select,
        rows: pa.Table,
        tables: dict[str, tuple[DatasetId, dict[str, Any]]],
        con: duckdb.DuckDBPyConnection,
        job: dict[str, Any],
        report: TraceReport,
        limit: int,
        feeding: dict[str, set[str]],
        depth: int,
    ) -> None:
        """One SELECT of a step: push the bad rows' keys down, trace each input it reads."""
        keys = self._keys(query, rows.column_names)
        # the bad rows' keys as a table the query semi-joins with, not as literals in its text: a
        # hop's keys number in the thousands, and SQL text that long costs more to build, parse
        # and bind than running the query
        names = [f"k{i}" for i in range(len(keys))]
        con.register("__bad_keys", pa.table([rows.column(out) for out, _ in keys], names=names))
        key_exprs = [e for _, e in keys]
        pushdown = exp.In(
            this=key_exprs[0].copy()
            if len(key_exprs) == 1
            else exp.Tuple(expressions=[e.copy() for e in key_exprs]),
            query=exp.Subquery(this=exp.select(*names).from_("__bad_keys")),
        )
        for source in query.find_all(exp.Table):
            alias = source.alias_or_name
            name = source.name
            if name not in tables:
                continue
            # every row of this input that fed the output, with multiplicity (one per joined row)
            fed = query.copy()
            for arg in ("group", "having", "order", "limit", "qualify"):
                fed.set(arg, None)
            fed.set("expressions", [exp.Column(this=exp.Star(), table=exp.to_identifier(alias))])
            all_rows = con.sql(fed.sql(dialect="duckdb")).to_arrow_table()
            pushed = fed.where(pushdown.copy(), copy=False)  # no copy of the query per use
            contributing_rows = con.sql(pushed.sql(dialect="duckdb")).to_arrow_table()
            distinct = con.sql(
                exp.select("*")
                .from_(
                    exp.Subquery(this=pushed, alias=exp.TableAlias(this=exp.to_identifier("x"))),
                    copy=False,
                )
                .distinct(copy=False)
                .sql(dialect="duckdb")
            ).to_arrow_table()
            ds_id, ds = tables[name]
            total = con.execute(
                exp.select(exp.func("COUNT", exp.Star())).from_(name).sql(dialect="duckdb")
            ).fetchall()[0]
            report.hops.append(
                Hop(
                    _short(ds_id.name),
                    distinct.num_rows,
                    int(total[0]) if total else 0,
                    job["name"],
                    distinct.slice(0, limit).to_pylist(),
                )
            )
            if self._producer(ds_id) is None or depth + 1 >= self.max_hops:
                self._root_cause(ds_id, contributing_rows, all_rows, report, feeding)
            else:
                self._hop(ds_id, ds, distinct, report, limit, feeding, depth + 1)

    @staticmethod
    def _keys(query: exp.Select, output_columns: list[str]) -> list[tuple[str, exp.Expr]]:
        """(output column, input expression) pairs that identify output rows."""
        identity = [
            (p.alias_or_name, p.unalias())
            for p in query.selects
            if isinstance(p.unalias(), exp.Column) and not isinstance(p.unalias().this, exp.Star)
        ]
        passes_through = any(
            isinstance(p, exp.Star) or isinstance(p.this, exp.Star) for p in query.selects
        )
        if not identity and passes_through and output_columns:
            identity = [(output_columns[0], exp.column(output_columns[0], quoted=True))]  # SELECT *
        group = query.args.get("group")
        if group is not None:
            keys = {e.sql() for e in group.expressions}
            grouped = [(o, e) for o, e in identity if e.sql() in keys]
            if grouped:
                return grouped
        if not identity:
            msg = "the step has no column copied from an input, so its rows cannot be traced"
            raise TraceError(msg)
        return identity[:1]

    def _root_cause(
        self,
        dataset: DatasetId,
        rows: pa.Table,
        baseline: pa.Table,
        report: TraceReport,
        feeding: dict[str, set[str]],
    ) -> None:
        """Find the condition over columns feeding the bad column that singles out the rows.

        Candidates: ``a > b`` for numeric column pairs, ``c IS NULL``, ``c < 0`` and ``c = 0`` for
        numeric columns, ``c = 'v'`` for the most common value of a low-cardinality text column.
        The one whose share among the contributing rows most exceeds its share among all rows
        (lift above 1.2) is the root cause; single-column conditions must also cover at least a
        tenth of the contributing rows.
        """
        columns = [c for c in rows.column_names if c in feeding.get(dataset.name, set())]
        if not columns or rows.num_rows == 0 or baseline.num_rows == 0:
            return
        con = duckdb.connect()
        con.register("c", rows)
        con.register("a", baseline)
        best: tuple[float, float, str, exp.Expr] | None = None
        for label, cond, min_share in _candidates(con, rows, columns):
            share = exp.func(
                "AVG",
                exp.Cast(
                    this=exp.func("COALESCE", cond, exp.false()), to=exp.DataType.build("double")
                ),
            )
            sc, sa = (
                float(
                    (
                        con.execute(
                            exp.select(share.copy()).from_(t).sql(dialect="duckdb")
                        ).fetchone()
                        or [0]
                    )[0]
                    or 0
                )
                for t in ("c", "a")
            )
            lift = sc / max(sa, 1e-9)
            if (
                sc > 0
                and sc >= min_share
                and lift > 1.2
                and (best is None or (lift, sc) > best[:2])
            ):
                best = (lift, sc, label, cond)
        if best is None:
            con.close()
            return
        lift, sc, label, cond = best
        distinct_count = int(
            (
                con.execute(
                    exp.select(exp.func("COUNT", exp.Star()))
                    .from_(
                        exp.Subquery(
                            this=exp.select("*").from_("c").where(cond.copy()).distinct(),
                            alias=exp.TableAlias(this=exp.to_identifier("d")),
                        )
                    )
                    .sql(dialect="duckdb")
                ).fetchone()
                or [0]
            )[0]
        )
        con.close()
        weighted = round(sc * rows.num_rows)
        share_all = sc / lift
        report.root_causes.append(
            f"root cause: {_short(dataset.name)} rows where {label} "
            f"({distinct_count} such rows feed {weighted} of the {rows.num_rows} contributing joined rows, "
            f"{weighted / rows.num_rows:.0%} against {share_all:.0%} across all rows)"
        )


def _candidates(
    con: duckdb.DuckDBPyConnection, rows: pa.Table, columns: list[str]
) -> list[tuple[str, exp.Expr, float]]:
    """(label, condition, minimum share among the contributing rows) to try as root causes."""

    def col(name: str) -> exp.Column:
        return exp.column(name, quoted=True)

    numeric = [
        c
        for c in columns
        if pa.types.is_floating(rows.schema.field(c).type)
        or pa.types.is_integer(rows.schema.field(c).type)
    ]
    found: list[tuple[str, exp.Expr, float]] = [
        (f"{left} > {right}", exp.GT(this=col(left), expression=col(right)), 0.0)
        for left, right in permutations(numeric, 2)
    ]
    for c in columns:
        found.append((f"{c} IS NULL", exp.Is(this=col(c), expression=exp.null()), 0.1))
    for c in numeric:
        found.append((f"{c} < 0", exp.LT(this=col(c), expression=exp.Literal.number(0)), 0.1))
        found.append((f"{c} = 0", exp.EQ(this=col(c), expression=exp.Literal.number(0)), 0.1))
    for c in columns:
        if not pa.types.is_string(rows.schema.field(c).type):
            continue
        top = con.execute(
            exp.select(col(c), exp.func("COUNT", exp.Star()).as_("n"))
            .from_("a")
            .group_by(col(c))
            .order_by("n DESC")
            .limit(51)
            .sql(dialect="duckdb")
        ).fetchall()
        if len(top) > 50:
            continue  # not categorical
        common = con.execute(
            exp.select(col(c))
            .from_("c")
            .where(exp.Not(this=exp.Is(this=col(c), expression=exp.null())))
            .group_by(col(c))
            .order_by(exp.Ordered(this=exp.func("COUNT", exp.Star()), desc=True))
            .limit(1)
            .sql(dialect="duckdb")
        ).fetchone()
        if common is not None:
            value = str(common[0])
            found.append(
                (f"{c} = '{value}'", exp.EQ(this=col(c), expression=exp.Literal.string(value)), 0.1)
            )
    return found


def trace(
    store: LineageStore,
    reader: DataReader,
    dataset: DatasetId,
    where: str,
    as_of: datetime | None = None,
) -> TraceReport:
    """Trace the rows of ``dataset`` matching ``where`` upstream (see module docstring).

    With ``as_of``, the trace starts from the dataset's version at that time and follows, at each
    hop, the job's last completed run by then and the snapshots that run read.

    Raises:
        NotFound: unknown dataset. TraceError: bad ``where`` or an untraceable step.
    """
    if not store.node_exists(dataset):
        msg = f"node {dataset.node_id()} not found"
        raise NotFound(msg)
    return Tracer(store, reader, as_of=as_of).trace(dataset, where)
