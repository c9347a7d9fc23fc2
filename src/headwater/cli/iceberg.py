"""``headwater iceberg harvest`` and ``headwater iceberg export``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from headwater.cli.common import DbOption, console, fail, friendly_errors
from headwater.pipelines.spec import PipelineError, parse_params
from headwater.store import open_store

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

# pyiceberg, pyarrow and the OpenLineage client are imported by the commands, not when the CLI
# starts.

iceberg_app = typer.Typer(help="Lineage from and to Apache Iceberg catalogs.", no_args_is_help=True)
CatalogDir = Annotated[
    Path, typer.Option("--catalog-dir", help="Local Iceberg SQL catalog directory.")
]
CatalogProps = Annotated[
    list[str] | None,
    typer.Option(
        "--catalog",
        help="pyiceberg catalog property key=value (repeatable), e.g. type=rest uri=...",
    ),
]


def _catalog(catalog_dir: Path, props: list[str] | None) -> Catalog:
    from headwater.capture.iceberg import CatalogError, open_catalog

    try:
        properties = parse_params(props or [])
        if not properties and not (catalog_dir / "catalog.db").exists():
            raise fail(
                f"no Iceberg catalog at {catalog_dir} (catalog.db missing); pass --catalog-dir or --catalog"
            )
        return open_catalog(None if properties else catalog_dir, **properties)
    except (PipelineError, CatalogError) as exc:
        raise fail(str(exc)) from None


@iceberg_app.command("harvest")
@friendly_errors
def harvest_cmd(
    catalog_dir: CatalogDir = Path("./headwater-catalog"),
    catalog: CatalogProps = None,
    namespace: Annotated[
        list[str] | None,
        typer.Option("--namespace", "-n", help="Iceberg namespace(s) to read (default all)."),
    ] = None,
    include_headwater: Annotated[
        bool, typer.Option("--include-headwater", help="Also tables Headwater pipelines wrote.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Record lineage for existing Iceberg tables from their properties (upstream_tables, owner, ...) and schemas."""
    from headwater.capture.harvest import harvest
    from headwater.capture.transport import make_client

    cat = _catalog(catalog_dir, catalog)
    result = harvest(
        cat, make_client(db_url=db) if db else make_client(), namespace, include_headwater
    )
    console.print(
        f"harvested {result.tables} tables ({result.with_upstream} with upstream_tables); "
        f"skipped {result.skipped} written by Headwater pipelines"
    )


@iceberg_app.command("export")
@friendly_errors
def export_cmd(
    table: Annotated[
        str, typer.Argument(help="Target Iceberg table, db.table.")
    ] = "governance_demo.lineage_events",
    catalog_dir: CatalogDir = Path("./headwater-catalog"),
    catalog: CatalogProps = None,
    db: DbOption = None,
) -> None:
    """Write the stored lineage events to an Iceberg table, queryable from DuckDB or Spark."""
    if "." not in table:
        raise fail(f"table {table!r} must be qualified as namespace.table")
    from headwater.capture.harvest import export_events

    cat = _catalog(catalog_dir, catalog)
    count = export_events(open_store(db), cat, table)
    console.print(f"exported {count} run events to {table}")


def register(app: typer.Typer) -> None:
    """Add the ``iceberg`` command group."""
    app.add_typer(iceberg_app, name="iceberg")
