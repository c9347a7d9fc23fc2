"""``analyze``: SQL text in, lineage out. No database, no I/O.

Per statement: one parse, one qualify (sqlglot, schema-aware), one scope walk
(:class:`headwater.sql.scopes.QueryTracer`). Writes are reduced to a query plus
a target: CTAS/CREATE VIEW and INSERT carry their query; MERGE and UPDATE are
rewritten into the SELECT that computes the new values; DELETE into the SELECT
that picks the rows. Temporary tables and views created earlier in a script
are followed through to their own sources. Results are cached by statement.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, SqlglotError
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from headwater.sql.model import (
    ColumnLineage,
    DatasetRef,
    InputField,
    ScriptLineage,
    SqlIssue,
    StatementLineage,
    Transformation,
)
from headwater.sql.schema import build_schema
from headwater.sql.scopes import Edges, QueryTracer, compose, merge
from headwater.sql.split import Chunk, split_statements

DEFAULT_NAMESPACES = {"duckdb": "duckdb://", "postgres": "postgres://", "spark": "spark://"}


class SqlLineageError(ValueError):
    """Bad arguments to :func:`analyze` (unknown dialect, unreadable schema)."""


@dataclass
class _Temp:
    """A temporary table or view of the script: its columns' lineage to real sources."""

    columns: dict[str, Edges]
    indirect: Edges
    inputs: set[DatasetRef]


@dataclass
class _Context:
    dialect: str
    namespace: str
    catalog: str | None
    db: str | None
    schema: MappingSchema
    temps: dict[DatasetRef, _Temp] = field(default_factory=dict)


@dataclass
class _Plan:
    kind: str
    query: exp.Expr | None
    target: exp.Table | None
    target_columns: list[str] | None
    temporary: bool = False
    assignments: list[tuple[str, int]] | None = (
        None  # MERGE/UPDATE: (target column, projection index)
    )


def analyze(
    sql: str,
    dialect: str = "duckdb",
    schema: Mapping[str, Any] | None = None,
    default_namespace: str | None = None,
    default_catalog: str | None = None,
    default_db: str | None = None,
) -> ScriptLineage:
    """Table and column lineage of a SQL script.

    Args:
        sql: one statement or a script of several, separated by ``;``.
        dialect: sqlglot dialect name (spark, duckdb, postgres, snowflake, bigquery, trino, mysql,
            redshift, hive, tsql, ...).
        schema: known tables and their columns (see :mod:`headwater.sql.schema`); needed to expand
            ``*`` and to resolve unqualified columns in joins.
        default_namespace: OpenLineage namespace of every dataset (e.g. ``postgres://host:5432``).
        default_catalog: catalog of unqualified table names.
        default_db: database/schema of unqualified table names.

    Returns:
        The lineage of every statement that writes or selects a dataset, plus errors and warnings.

    Raises:
        SqlLineageError: unknown dialect or unreadable schema.

    >>> r = analyze("INSERT INTO t SELECT a + 1 AS x FROM s", default_namespace="duckdb://")
    >>> [(c.field, [(i.field, i.transformations[0].subtype) for i in c.inputs]) for c in r.statements[0].columns]
    [('x', [('a', 'TRANSFORMATION')])]
    """
    schema_key = (
        json.dumps(schema, default=str) if schema else ""
    )  # column order matters: no sort_keys
    return _analyze_cached(sql, dialect, schema_key, default_namespace, default_catalog, default_db)


@lru_cache(maxsize=4096)
def _analyze_cached(
    sql: str,
    dialect: str,
    schema_key: str,
    namespace: str | None,
    catalog: str | None,
    db: str | None,
) -> ScriptLineage:
    try:
        sqlglot.Dialect.get_or_raise(dialect)
    except ValueError as exc:
        raise SqlLineageError(str(exc)) from None
    try:
        schema = build_schema(json.loads(schema_key) if schema_key else None, dialect, db, catalog)
    except (ValueError, SqlglotError) as exc:
        msg = f"schema: {exc}"
        raise SqlLineageError(msg) from None
    ctx = _Context(
        dialect, namespace or DEFAULT_NAMESPACES.get(dialect, f"{dialect}://"), catalog, db, schema
    )
    statements: list[StatementLineage] = []
    errors: list[SqlIssue] = []
    warnings: list[SqlIssue] = []
    for index, chunk in enumerate(split_statements(sql, dialect)):
        try:
            parsed = sqlglot.parse_one(chunk.text, read=dialect, error_level=ErrorLevel.RAISE)
        except (ParseError, SqlglotError) as exc:
            errors.append(_parse_issue(index, chunk, exc))
            continue
        try:
            result = _statement(ctx, index, chunk, parsed)
        except (OptimizeError, SqlglotError, ValueError, RecursionError) as exc:
            errors.append(SqlIssue(index, chunk.line, chunk.column, f"cannot analyse: {exc}"))
            continue
        if result is not None:
            statements.append(result)
            warnings.extend(result.warnings)
    return ScriptLineage(tuple(statements), tuple(errors), tuple(warnings))


def _parse_issue(index: int, chunk: Chunk, exc: SqlglotError) -> SqlIssue:
    details = getattr(exc, "errors", None) or [{}]
    first = details[0]
    line, col = int(first.get("line") or 1), int(first.get("col") or 1)
    message = str(first.get("description") or exc).splitlines()[0]
    return SqlIssue(
        index, chunk.line + line - 1, chunk.column + col - 1 if line == 1 else col, message
    )


# -- naming ------------------------------------------------------------------------------------
def _table_name(ctx: _Context, table: exp.Table) -> str:
    parts = [table.catalog or "", table.db or "", table.name]
    if not parts[1] and ctx.db:
        parts[1] = ctx.db
    if not parts[0] and ctx.catalog and parts[1]:
        parts[0] = ctx.catalog
    return ".".join(p for p in parts if p)


def _dataset(ctx: _Context, table: exp.Table) -> DatasetRef:
    return DatasetRef(ctx.namespace, _table_name(ctx, table))


def _normalized_table(ctx: _Context, table: exp.Table) -> exp.Table:
    copy = exp.Table(
        this=table.this.copy(), db=table.args.get("db"), catalog=table.args.get("catalog")
    )
    normalized = normalize_identifiers(copy, dialect=ctx.dialect)
    assert isinstance(normalized, exp.Table)
    return normalized


# -- statements --------------------------------------------------------------------------------
def _plan(statement: exp.Expr) -> _Plan | None:
    if isinstance(statement, exp.Create):
        kind = str(statement.args.get("kind") or "").upper()
        target = statement.this
        columns = None
        if isinstance(target, exp.Schema):
            columns = [c.name for c in target.expressions]
            target = target.this
        temporary = bool(statement.find(exp.TemporaryProperty)) or bool(
            statement.args.get("temporary")
        )
        query = statement.expression
        if not isinstance(target, exp.Table):
            return None
        if not isinstance(query, exp.Query):
            return _Plan("create_table", None, target, columns, temporary)
        return _Plan(
            "create_view" if kind == "VIEW" else "create_table_as",
            query,
            target,
            columns,
            temporary,
        )
    if isinstance(statement, exp.Insert):
        target = statement.this
        columns = None
        if isinstance(target, exp.Schema):
            columns = [c.name for c in target.expressions]
            target = target.this
        query = statement.expression
        if not isinstance(target, exp.Table):
            return None
        return _Plan("insert", query if isinstance(query, exp.Query) else None, target, columns)
    if isinstance(statement, exp.Merge):
        return _merge_plan(statement)
    if isinstance(statement, exp.Update):
        return _update_plan(statement)
    if isinstance(statement, exp.Delete):
        target = statement.this
        if not isinstance(target, exp.Table):
            return None
        select = exp.select(exp.Literal.number(1)).from_(target.copy())
        for using in statement.args.get("using") or []:
            select = select.join(using.copy())
        where = statement.args.get("where")
        if where is not None:
            select = select.where(where.this.copy())
        return _Plan("delete", select, target, [], assignments=[])
    if isinstance(statement, exp.Copy):
        target = statement.this
        return _Plan("copy", None, target, None) if isinstance(target, exp.Table) else None
    if isinstance(statement, exp.Query):
        return _Plan("select", statement, None, None)
    return None


def _merge_plan(merge_stmt: exp.Merge) -> _Plan | None:
    target, source = merge_stmt.this, merge_stmt.args.get("using")
    if not isinstance(target, exp.Table) or source is None:
        return None
    projections: list[exp.Expr] = []
    assignments: list[tuple[str, int]] = []
    whens = merge_stmt.args.get("whens")
    for when in whens.expressions if whens is not None else []:
        then = when.args.get("then")
        if isinstance(then, exp.Update):
            for eq in then.expressions:
                assignments.append((eq.this.name, len(projections)))
                projections.append(exp.alias_(eq.expression.copy(), f"__hw_{len(projections)}"))
        elif (
            isinstance(then, exp.Insert)
            and isinstance(then.this, exp.Tuple)
            and isinstance(then.expression, exp.Tuple)
        ):
            for col, value in zip(then.this.expressions, then.expression.expressions, strict=False):
                assignments.append((col.name, len(projections)))
                projections.append(exp.alias_(value.copy(), f"__hw_{len(projections)}"))
    if not projections:
        projections = [exp.Literal.number(1)]
    on = merge_stmt.args.get("on")
    select = (
        exp.select(*projections)
        .from_(target.copy())
        .join(source.copy(), on=on.copy() if on is not None else None)
    )
    return _Plan("merge", select, target, None, assignments=assignments)


def _update_plan(update: exp.Update) -> _Plan | None:
    target = update.this
    if not isinstance(target, exp.Table):
        return None
    projections: list[exp.Expr] = []
    assignments: list[tuple[str, int]] = []
    for eq in update.expressions:
        assignments.append((eq.this.name, len(projections)))
        projections.append(exp.alias_(eq.expression.copy(), f"__hw_{len(projections)}"))
    select = exp.select(*projections).from_(target.copy())
    from_ = update.args.get("from_") or update.args.get("from")
    if from_ is not None:
        select = select.join(from_.this.copy())
        for join in from_.args.get("joins") or []:
            select = select.join(join.copy())
    for join in update.args.get("joins") or []:
        select = select.join(join.copy())
    where = update.args.get("where")
    if where is not None:
        select = select.where(where.this.copy())
    return _Plan("update", select, target, None, assignments=assignments)


def _statement(
    ctx: _Context, index: int, chunk: Chunk, statement: exp.Expr
) -> StatementLineage | None:
    if isinstance(statement, exp.Use):
        target = statement.this
        ctx.db = (target.name if isinstance(target, exp.Expr) else None) or ctx.db
        return None
    if isinstance(statement, exp.Drop):
        table = statement.this
        if isinstance(table, exp.Table):
            ctx.temps.pop(_dataset(ctx, _normalized_table(ctx, table)), None)
        return None
    plan = _plan(statement)
    if plan is None:
        return None
    warnings: list[SqlIssue] = []

    def warn(message: str, node: exp.Expr | None) -> None:
        meta = node.meta if node is not None else {}
        line = int(meta.get("line") or 0)
        col = int(meta.get("col") or 0)
        issue = SqlIssue(
            index,
            chunk.line + line - 1 if line else chunk.line,
            chunk.column + col - 1 if line == 1 else col,
            message,
        )
        if issue not in warnings:
            warnings.append(issue)

    target = _normalized_table(ctx, plan.target) if plan.target is not None else None
    output = _dataset(ctx, target) if target is not None else None
    outputs: list[tuple[str, Edges]] = []
    shared: Edges = {}
    inputs: set[DatasetRef] = set()
    if plan.query is not None:
        qualified = qualify(
            plan.query.copy(),
            dialect=ctx.dialect,
            schema=ctx.schema,
            db=ctx.db,
            catalog=ctx.catalog,
            validate_qualify_columns=False,
            quote_identifiers=False,
            identify=False,
        )
        tracer = QueryTracer(qualified, lambda t: _dataset(ctx, t), ctx.dialect, warn)
        inputs = set(tracer.inputs)
        shared = tracer.indirect(tracer.scope)
        projected = tracer.outputs()
        outputs = _map_outputs(ctx, plan, target, projected, warn)
    # follow temporary tables through to their sources
    outputs = [(name, _through_temps(ctx, edges)) for name, edges in outputs]
    shared = _through_temps(ctx, shared)
    for temp_ref in [i for i in inputs if i in ctx.temps]:
        inputs.discard(temp_ref)
        inputs |= ctx.temps[temp_ref].inputs
    if target is not None:
        _remember_schema(ctx, target, [n for n, _ in outputs], plan)
    if plan.temporary and output is not None:
        ctx.temps[output] = _Temp(dict(outputs), shared, inputs)
        return None
    columns = tuple(
        ColumnLineage(output, name, _input_fields(edges))
        for name, edges in outputs
        if edges or plan.kind != "delete"
    )
    return StatementLineage(
        index=index,
        sql=chunk.text,
        kind=plan.kind,
        dialect=ctx.dialect,
        inputs=tuple(sorted(inputs)),  # MERGE/UPDATE/DELETE read their target: it is an input too
        outputs=(output,) if output is not None else (),
        columns=columns,
        dataset_dependencies=_input_fields(shared),
        warnings=tuple(warnings),
    )


def _map_outputs(
    ctx: _Context,
    plan: _Plan,
    target: exp.Table | None,
    projected: list[tuple[str, Edges]],
    warn: Any,
) -> list[tuple[str, Edges]]:
    if plan.assignments is not None:
        by_column: dict[str, Edges] = {}
        for column, position in plan.assignments:
            merge(
                by_column.setdefault(column, {}),
                projected[position][1] if position < len(projected) else {},
            )
        return list(by_column.items())
    if plan.target_columns:
        names = plan.target_columns
    elif plan.kind == "insert" and target is not None:
        known = _known_columns(ctx, target)
        static = _static_partitions(plan.target)
        names = [c for c in known if c not in static] if known else []
        if not names:
            names = [n for n, _ in projected]
    else:
        names = [n for n, _ in projected]
    if len(names) != len(projected) and plan.kind == "insert":
        warn(
            f"{len(projected)} values go into {len(names)} target columns; mapped by position",
            None,
        )
    return [(name, edges) for name, (_, edges) in zip(names, projected, strict=False)]


def _static_partitions(table: exp.Table | None) -> set[str]:
    partition = table.args.get("partition") if table is not None else None
    if partition is None:
        return set()
    return {e.this.name for e in partition.expressions if isinstance(e, exp.EQ)}


def _known_columns(ctx: _Context, table: exp.Table) -> list[str]:
    try:
        return list(ctx.schema.column_names(table, dialect=ctx.dialect))
    except (SqlglotError, ValueError, KeyError):
        return []


def _remember_schema(ctx: _Context, target: exp.Table, names: list[str], plan: _Plan) -> None:
    if plan.kind not in ("create_table_as", "create_view") or not names:
        return
    table = exp.Table(
        this=target.this, db=target.args.get("db"), catalog=target.args.get("catalog")
    )
    if not table.db and ctx.db and ctx.schema.depth() >= 2:
        table.set("db", exp.to_identifier(ctx.db))
    if not table.catalog and ctx.catalog and ctx.schema.depth() >= 3:
        table.set("catalog", exp.to_identifier(ctx.catalog))
    # A name at another depth than the user's schema cannot be added: later stars on it stay
    # unexpanded, with a warning.
    with contextlib.suppress(SqlglotError, ValueError):
        ctx.schema.add_table(table, dict.fromkeys(names, "UNKNOWN"), dialect=ctx.dialect)


def _through_temps(ctx: _Context, edges: Edges) -> Edges:
    if not ctx.temps:
        return edges
    result: Edges = {}
    for (dataset, column), transformations in edges.items():
        temp = ctx.temps.get(dataset)
        if temp is None:
            result.setdefault((dataset, column), set()).update(transformations)
            continue
        inner = dict(temp.columns.get(column, {}))
        merge(inner, temp.indirect)
        for source, inner_ts in inner.items():
            result.setdefault(source, set()).update(
                compose(o, i) for o in transformations for i in inner_ts
            )
    return result


def _input_fields(edges: Edges) -> tuple[InputField, ...]:
    def order(t: Transformation) -> tuple[int, str, str]:
        return (0 if t.type == "DIRECT" else 1, t.subtype, t.description)

    return tuple(
        InputField(dataset, column, tuple(sorted(ts, key=order)))
        for (dataset, column), ts in sorted(edges.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    )
