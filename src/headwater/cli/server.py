"""``headwater serve`` and ``headwater db upgrade``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from headwater.cli.common import DbOption, console, fail, friendly_errors
from headwater.store import open_store, resolve_url

db_app = typer.Typer(help="Manage the lineage store.", no_args_is_help=True)


@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    db: DbOption = None,
    workers: Annotated[
        int, typer.Option(help="Server worker processes (use PostgreSQL for more than 1).")
    ] = 1,
    catalog_dir: Annotated[
        Path | None,
        typer.Option(
            "--catalog-dir",
            help="Iceberg SQL catalog directory for row-level traces (/api/v1/headwater/trace).",
        ),
    ] = None,
) -> None:
    """Serve the OpenLineage ingest API, the Marquez-compatible read API and the web UI."""
    import os

    import uvicorn

    url = resolve_url(db)
    open_store(url).close()  # migrate once, before workers start
    os.environ["HEADWATER_DB_URL"] = url
    if catalog_dir is not None:
        if not (catalog_dir / "catalog.db").exists():
            raise fail(
                f"no Iceberg catalog at {catalog_dir} (expected {catalog_dir / 'catalog.db'})"
            )
        os.environ["HEADWATER_CATALOG_DIR"] = str(catalog_dir.resolve())
    console.print(f"Headwater on http://{host}:{port}  store: {url}")
    uvicorn.run(
        "headwater.api.server:app",
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@db_app.command("upgrade")
@friendly_errors
def upgrade(db: DbOption = None) -> None:
    """Create or migrate the store's schema (never drops data)."""
    from headwater.store.migrate import current_revision
    from headwater.store.sql import SqlStore

    url = resolve_url(db)
    store = SqlStore(url)
    before = current_revision(store.engine)
    store.upgrade()
    after = current_revision(store.engine)
    console.print(
        f"{url}: schema at revision {after}"
        + ("" if before == after else f" (was {before or 'empty'})")
    )


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``db`` to the root app."""
    app.command("serve")(serve)
    app.add_typer(db_app, name="db")
