"""Quality checks on a step's result, evaluated in DuckDB.

Queries are built with sqlglot, never by pasting text: column names become quoted
identifiers, values become literals, and a ``sql`` check's text must parse as one
boolean expression (a statement or a second query is rejected).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from headwater.pipelines.spec import Check


@dataclass
class CheckResult:
    """One quality check's outcome."""

    table: str
    check: str
    success: bool
    detail: str
    column: str | None = None
    distinct: int | None = None  # what a unique check counted (reused for dataQualityMetrics)


Lookup = Callable[[str], pa.Table]  # another table's rows, for referential checks


def parse_age(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m`` as a timedelta.

    Raises:
        ValueError: any other shape.
    """
    match = re.fullmatch(r"(\d+)([dhm])", str(text).strip())
    if not match:
        msg = f"{text!r} must look like 90d, 12h or 30m"
        raise ValueError(msg)
    unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


def _count(con: duckdb.DuckDBPyConnection, where: exp.Expr | None = None) -> int:
    query = exp.select(exp.func("COUNT", exp.Star())).from_("t")
    if where is not None:
        query = query.where(where)
    return int(_scalar(con, query) or 0)


def _scalar(con: duckdb.DuckDBPyConnection, query: exp.Expr) -> Any:
    """The first value of a one-row query (the result fully consumed, as DuckDB 2 requires)."""
    rows = con.execute(query.sql(dialect="duckdb")).fetchall()
    return rows[0][0] if rows else None


def condition(text: str) -> exp.Expr:
    """Parse a check's boolean SQL expression.

    Raises:
        ValueError: the text is not a single expression.
    """
    try:
        parsed = sqlglot.parse_one(text, read="duckdb", into=exp.Condition)
    except ParseError as exc:
        msg = f"check {text!r} is not a SQL boolean expression: {str(exc).splitlines()[0]}"
        raise ValueError(msg) from None
    if parsed.find(exp.Query) is not None and not isinstance(parsed, exp.Subquery | exp.Exists):
        msg = f"check {text!r} must be an expression, not a query"
        raise ValueError(msg)
    return parsed


def run_checks(
    table: str,
    data: pa.Table,
    checks: tuple[Check, ...],
    lookup: Lookup | None = None,
    now: datetime | None = None,
) -> list[CheckResult]:
    """Evaluate ``checks`` on ``data`` (the Arrow table just committed as ``table``).

    Args:
        table: the table's identifier (for the results).
        data: its rows.
        checks: what to check.
        lookup: reads another table (``references`` checks); None: such checks fail, saying so.
        now: the time ``freshness`` is measured against (default: now, UTC).
    """
    if not checks:
        return []
    con = duckdb.connect()
    con.register("t", data)
    results = []
    try:
        for check in checks:
            column = exp.column(check.column, quoted=True) if check.column else None
            if check.kind == "not_null" and column is not None:
                bad = _count(con, column.is_(exp.null()))
                results.append(
                    CheckResult(table, check.name, bad == 0, f"{bad} null values", check.column)
                )
            elif check.kind == "unique" and column is not None:
                distinct = exp.select(exp.func("COUNT", exp.Distinct(expressions=[column]))).from_(
                    "t"
                )
                distinct_count = int(_scalar(con, distinct) or 0)
                dup = data.num_rows - distinct_count - _count(con, column.is_(exp.null()))
                results.append(
                    CheckResult(
                        table,
                        check.name,
                        dup == 0,
                        f"{dup} duplicate values",
                        check.column,
                        distinct_count,
                    )
                )
            elif check.kind == "row_count":
                n = data.num_rows
                lo, hi = check.options.get("min"), check.options.get("max")
                ok = (lo is None or n >= int(lo)) and (hi is None or n <= int(hi))
                results.append(CheckResult(table, check.name, ok, f"{n} rows"))
            elif check.kind == "sql":
                bad = _count(con, exp.not_(exp.paren(condition(str(check.expression)))))
                results.append(CheckResult(table, check.name, bad == 0, f"{bad} rows violate it"))
            elif check.kind == "range" and column is not None:
                parts: list[exp.Expr] = []
                if check.options.get("min") is not None:
                    parts.append(column.copy() < exp.convert(check.options["min"]))
                if check.options.get("max") is not None:
                    parts.append(column.copy() > exp.convert(check.options["max"]))
                bad = _count(con, exp.or_(*parts)) if parts else 0
                results.append(
                    CheckResult(
                        table, check.name, bad == 0, f"{bad} values out of range", check.column
                    )
                )
            elif check.kind == "freshness" and column is not None:
                results.append(_freshness(con, table, check, column, now or datetime.now(UTC)))
            elif check.kind == "references" and column is not None:
                results.append(_references(con, table, check, column, lookup))
            elif check.kind == "accepted_values" and column is not None:
                values = [exp.convert(v) for v in check.options.get("values") or []]
                bad = _count(con, exp.not_(column.isin(*values))) if values else data.num_rows
                results.append(
                    CheckResult(
                        table, check.name, bad == 0, f"{bad} unexpected values", check.column
                    )
                )
    finally:
        con.close()
    return results


def _freshness(
    con: duckdb.DuckDBPyConnection, table: str, check: Check, column: exp.Column, now: datetime
) -> CheckResult:
    """The newest value of a date/timestamp column is at most ``max_age`` old."""
    max_age = parse_age(str(check.options.get("max_age", "1d")))
    newest = _scalar(con, exp.select(exp.func("MAX", column)).from_("t"))
    if newest is None:
        return CheckResult(table, check.name, False, "no values", check.column)
    if isinstance(newest, datetime):
        moment = newest if newest.tzinfo else newest.replace(tzinfo=UTC)
    elif isinstance(newest, date):
        moment = datetime(newest.year, newest.month, newest.day, tzinfo=UTC) + timedelta(days=1)
    else:
        return CheckResult(
            table, check.name, False, f"{check.column} is not a date or time", check.column
        )
    age = now - moment
    ok = age <= max_age
    days = age.total_seconds() / 86400
    return CheckResult(
        table,
        check.name,
        ok,
        f"newest {newest} is {days:.1f} days old (max {check.options.get('max_age')})",
        check.column,
    )


def _references(
    con: duckdb.DuckDBPyConnection,
    table: str,
    check: Check,
    column: exp.Column,
    lookup: Lookup | None,
) -> CheckResult:
    """Every non-null value of the column exists in ``table.field`` (referential integrity)."""
    target, field = (
        str(check.options.get("table", "")),
        str(check.options.get("field") or check.column),
    )
    if lookup is None:
        return CheckResult(table, check.name, False, f"cannot read {target}", check.column)
    try:
        con.register("r", lookup(target))
    except Exception as exc:
        return CheckResult(table, check.name, False, f"cannot read {target}: {exc}", check.column)
    missing = (
        exp.select(exp.func("COUNT", exp.Star()))
        .from_("t")
        .where(
            exp.and_(
                exp.not_(column.copy().is_(exp.null())),
                exp.not_(
                    column.copy().isin(query=exp.select(exp.column(field, quoted=True)).from_("r"))
                ),
            )
        )
    )
    bad = int(_scalar(con, missing) or 0)
    con.unregister("r")
    return CheckResult(
        table, check.name, bad == 0, f"{bad} values not in {target}.{field}", check.column
    )


def column_metrics(data: pa.Table, results: list[CheckResult]) -> dict[str, Any]:
    """``{"rowCount", "columnMetrics"}`` of ``data`` for the checked columns (OpenLineage
    ``dataQualityMetrics``): null and value counts, sum/min/max of numeric columns, and the
    distinct count where a ``unique`` check counted it (counting distinct values again would cost
    more than the checks themselves on large tables)."""
    import pyarrow.compute as pc

    distinct = {r.column: r.distinct for r in results if r.column and r.distinct is not None}
    metrics: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(r.column for r in results if r.column):
        if name is None or name not in data.column_names:
            continue
        column = data.column(name)
        entry: dict[str, Any] = {
            "nullCount": column.null_count,
            "count": len(column) - column.null_count,
        }
        if name in distinct:
            entry["distinctCount"] = distinct[name]
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            bounds = pc.min_max(column).as_py()
            total = pc.sum(column).as_py()
            entry.update(
                {
                    k: v
                    for k, v in (("min", bounds["min"]), ("max", bounds["max"]), ("sum", total))
                    if v is not None
                }
            )
        metrics[name] = entry
    return {"rowCount": data.num_rows, "columnMetrics": metrics}
