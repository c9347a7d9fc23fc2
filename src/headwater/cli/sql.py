"""``headwater sql lineage``: the SQL lineage engine on the command line."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from headwater.cli.common import DbOption, console, err_console, fail, print_json
from headwater.store import NotFound, open_store

if TYPE_CHECKING:
    from headwater.sql import StatementLineage  # sqlglot: imported by the command, not at start

sql_app = typer.Typer(
    help="Analyse SQL: table and column lineage, without a database.", no_args_is_help=True
)


class SqlFormat(StrEnum):
    table = "table"
    openlineage = "openlineage"
    dot = "dot"


def _table(stmt: StatementLineage) -> Table:
    target = ", ".join(o.name for o in stmt.outputs) or "(query result)"
    sources = ", ".join(i.name for i in stmt.inputs) or "-"
    table = Table(
        title=f"statement {stmt.index + 1} ({stmt.kind}): {sources} -> {target}",
        title_justify="left",
    )
    table.add_column("output column", style="bold cyan", overflow="fold")
    table.add_column("source", overflow="fold")
    table.add_column("type", overflow="fold")
    table.add_column("expression", overflow="fold")
    for col in stmt.columns:
        first = True
        for inp in col.inputs:
            for t in inp.transformations:
                if t.type != "DIRECT":
                    continue
                table.add_row(
                    col.field if first else "",
                    f"{inp.dataset.name}.{inp.field}",
                    f"{t.subtype}{' (masked)' if t.masking else ''}",
                    t.description,
                )
                first = False
        if first:
            table.add_row(col.field, "-", "constant", "")
    if stmt.dataset_dependencies:
        deps = ", ".join(
            f"{d.dataset.name}.{d.field} ({'/'.join(sorted({t.subtype for t in d.transformations}))})"
            for d in stmt.dataset_dependencies
        )
        table.caption = f"indirect: {deps}"
        table.caption_justify = "left"
    return table


def _dot(statements: list[StatementLineage]) -> str:
    lines = ["digraph sql_lineage {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];']
    for stmt in statements:
        target = stmt.outputs[0].name if stmt.outputs else f"query_{stmt.index + 1}"
        for col in stmt.columns:
            for inp in col.inputs:
                for t in inp.transformations:
                    if t.type == "DIRECT":
                        src = json.dumps(f"{inp.dataset.name}.{inp.field}")
                        dst = json.dumps(f"{target}.{col.field}")
                        lines.append(f'  {src} -> {dst} [label="{t.subtype}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _store_schemas(db: str | None, namespace: str | None) -> dict[str, dict[str, str]]:
    """``{dataset name: {column: type}}`` for the datasets the store holds (with a schema)."""
    store = open_store(db)
    namespaces = [namespace] if namespace else [n["name"] for n in store.list_namespaces(10_000)[0]]
    mapping: dict[str, dict[str, str]] = {}
    for ns in namespaces:
        try:
            datasets = store.list_datasets(ns, 100_000)[0]
        except NotFound:
            continue
        for d in datasets:
            if d["fields"]:
                mapping[d["name"]] = {f["name"]: f.get("type") or "UNKNOWN" for f in d["fields"]}
    return mapping


@sql_app.command("lineage")
def lineage(
    file: Annotated[str, typer.Argument(help="SQL file, or - for standard input.")] = "-",
    dialect: Annotated[
        str,
        typer.Option(
            "--dialect", "-d", help="sqlglot dialect (spark, duckdb, postgres, snowflake, ...)."
        ),
    ] = "duckdb",
    schema: Annotated[
        Path | None,
        typer.Option("--schema", help='JSON: {"table" or "db.table": {"column": "type"}}.'),
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="OpenLineage namespace of the datasets.")
    ] = None,
    default_db: Annotated[
        str | None, typer.Option("--default-db", help="Database/schema of unqualified tables.")
    ] = None,
    fmt: Annotated[
        SqlFormat, typer.Option("--format", "-f", help="Output format.")
    ] = SqlFormat.table,
    store_schemas: Annotated[
        bool,
        typer.Option(
            "--store-schemas",
            help="Also use the schemas the lineage store knows (of --namespace, or all).",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Table and column lineage of a SQL script, with transformation types and expressions."""
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text()
        mapping = json.loads(schema.read_text()) if schema else None
        if store_schemas:
            mapping = {**_store_schemas(db, namespace), **(mapping or {})}
    except OSError as exc:
        raise fail(f"{exc.filename}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise fail(f"{schema}: not JSON ({exc.msg} at line {exc.lineno})") from None
    from headwater.sql import SqlLineageError, analyze

    try:
        result = analyze(
            text,
            dialect=dialect,
            schema=mapping,
            default_namespace=namespace,
            default_db=default_db,
        )
    except SqlLineageError as exc:
        raise fail(str(exc)) from None
    if fmt is SqlFormat.openlineage:
        print_json(result.to_openlineage())
    elif fmt is SqlFormat.dot:
        sys.stdout.write(_dot(list(result.statements)))
    else:
        for stmt in result.statements:
            console.print(_table(stmt))
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    for error in result.errors:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
    if result.errors:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``sql`` command group."""
    app.add_typer(sql_app, name="sql")
