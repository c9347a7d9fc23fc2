"""``headwater impact`` and ``headwater audit verify``."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from headwater.analysis import impact, resolve_node
from headwater.cli.common import (
    ApiKeyOption,
    DbOption,
    UrlOption,
    console,
    fail,
    friendly_errors,
    print_json,
)
from headwater.client import HttpReader
from headwater.store import open_store

audit_app = typer.Typer(help="Audit trail of the lineage event log.", no_args_is_help=True)


class ChangeKind(StrEnum):
    drop = "drop"
    type = "type"
    rename = "rename"


class Format(StrEnum):
    table = "table"
    json = "json"


def _render(report: dict[str, Any]) -> None:
    console.print(f"[bold]{report['verdict']}[/]")
    rows = report["breaking"] if report["change"] else report["affected"]
    if rows:
        table = Table(title="breaks" if report["change"] else "downstream", title_justify="left")
        for col in ("depth", "dataset", "column", "use", "via jobs", "transformation chain"):
            table.add_column(col, overflow="fold")
        for a in rows:
            dataset = a["dataset"].rstrip("/").rsplit("/", 1)[-1]
            table.add_row(
                str(a["depth"]),
                dataset,
                a["field"] or "",
                a["kind"],
                ", ".join(a["jobs"]),
                a["chain"],
            )
        console.print(table)
    if report["owners"]:
        owners = Table(title="owners to notify", title_justify="left")
        owners.add_column("owner")
        owners.add_column("of", overflow="fold")
        for owner, items in report["owners"].items():
            owners.add_row(owner, ", ".join(items))
        console.print(owners)


@friendly_errors
def impact_cmd(
    node: Annotated[
        str,
        typer.Argument(help="A dataset or column: node id, or a name like products_source.cost."),
    ],
    change: Annotated[
        ChangeKind | None,
        typer.Option("--change", help="Verdict for a change: drop, type or rename."),
    ] = None,
    depth: Annotated[int, typer.Option(min=1, max=100, help="Jobs downstream to follow.")] = 20,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    db: DbOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """What depends on a dataset or column, and what dropping, retyping or renaming it breaks."""
    if url:
        reader = HttpReader(url, api_key)
        params = {"nodeId": node, "depth": depth, **({"change": change.value} if change else {})}
        report = reader._get("/api/v1/headwater/impact", **params)
    else:
        store = open_store(db)
        report = impact(
            store, resolve_node(store, node), depth, change.value if change else None
        ).to_json()
    if fmt is Format.json:
        print_json(report)
    else:
        _render(report)


@audit_app.command("verify")
@friendly_errors
def verify(db: DbOption = None) -> None:
    """Recompute the event log's hash chain; report the first altered, missing or reordered event."""
    from headwater.store.audit import verify_chain

    report = verify_chain(open_store(db))
    if report.ok:
        console.print(
            f"[green]chain verified[/]: {report.checked} events, none altered, missing or reordered"
        )
        return
    raise fail(
        f"chain broken at event {report.first_bad_id} ({report.checked} checked): {report.reason}"
    )


def register(app: typer.Typer) -> None:
    """Add ``impact`` and ``audit``."""
    app.command("impact")(impact_cmd)
    app.add_typer(audit_app, name="audit")
