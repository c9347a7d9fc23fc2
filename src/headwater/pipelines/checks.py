"""Quality checks on a step's result, evaluated in DuckDB.

Queries are built with sqlglot, never by pasting text: column names become quoted
identifiers, values become literals, and a ``sql`` check's text must parse as one
boolean expression (a statement or a second query is rejected).
"""

from __future__ import annotations

from dataclasses import dataclass

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


def _count(con: duckdb.DuckDBPyConnection, where: exp.Expr | None = None) -> int:
    query = exp.select(exp.func("COUNT", exp.Star())).from_("t")
    if where is not None:
        query = query.where(where)
    row = con.execute(query.sql(dialect="duckdb")).fetchone()
    return int(row[0]) if row else 0


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


def run_checks(table: str, data: pa.Table, checks: tuple[Check, ...]) -> list[CheckResult]:
    """Evaluate ``checks`` on ``data`` (the Arrow table just committed as ``table``)."""
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
                row = con.execute(distinct.sql(dialect="duckdb")).fetchone()
                dup = (
                    data.num_rows - int(row[0] if row else 0) - _count(con, column.is_(exp.null()))
                )
                results.append(
                    CheckResult(
                        table, check.name, dup == 0, f"{dup} duplicate values", check.column
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
