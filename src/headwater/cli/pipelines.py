"""``headwater run`` and ``headwater demo``: pipelines with automatic lineage capture."""

from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.rule import Rule

from headwater.capture.iceberg import CatalogError, open_catalog
from headwater.capture.transport import make_client
from headwater.cli.common import DbOption, console, fail, friendly_errors
from headwater.pipelines import REFERENCE, PipelineError, Runner, StepFailed, load_pipeline
from headwater.pipelines import summary as show
from headwater.pipelines.spec import parse_params
from headwater.pipelines.validate import validate
from headwater.store import open_store, resolve_url

ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="Override a parameter: key=value (repeatable)."),
]


def _catalog_properties(pairs: list[str] | None) -> dict[str, str]:
    return parse_params(pairs or [])


def _execute(
    pipeline_file: Path,
    params: dict[str, str],
    catalog_dir: Path | None,
    catalog_props: dict[str, str],
    db: str | None,
    *,
    summary: bool,
) -> None:
    pipeline = load_pipeline(pipeline_file, params)
    catalog = open_catalog(catalog_dir, **catalog_props)
    store = open_store(db) if db or not _uses_remote() else None
    client = make_client(store, asynchronous=True) if store is not None else make_client()
    total = len(pipeline.sources) + len(pipeline.steps)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"{pipeline.name}: starting", total=total)

        def advance(message: str) -> None:
            # called as each source or step starts: the previous one is done
            if not progress.tasks[0].description.endswith(": starting"):
                progress.advance(task)
            progress.update(task, description=f"{pipeline.name}: {message}")

        runner = Runner(catalog, client, progress=advance)
        try:
            result = runner.run(pipeline)
        except StepFailed as exc:
            raise fail(
                f"{exc} (a FAIL event was recorded; earlier steps' snapshots are unchanged)"
            ) from None
    console.print(f"[green]pipeline {pipeline.name} completed[/] (run {result.run_id})")
    if not summary or store is None:
        return
    console.print(show.tables(result))
    target = (
        f"{pipeline.database}.{pipeline.parameters.get('target_table', pipeline.steps[-1].target)}"
    )
    if "target_table" not in pipeline.parameters:
        target = result.steps[-1].target
    console.print(Rule("Lineage"))
    console.print(show.lineage_tree(store, catalog, target))
    console.print(show.column_table(store, catalog, target))
    if "customers_table" in pipeline.parameters:
        console.print(
            show.dependents(
                store, catalog, f"{pipeline.database}.{pipeline.parameters['customers_table']}"
            )
        )
        console.print(Rule("Root cause"))
        for renderable in show.negative_profit(result, catalog, store):
            console.print(renderable)
    console.print(show.checks(result))
    if pipeline.flag("enable_validation") and "customers_table" in pipeline.parameters:
        console.print(show.validations(validate(result, catalog, store)))
    if pipeline.flag("enable_cleanup"):
        for step in reversed(result.steps):
            catalog.drop_table(step.target)
        for source in result.sources:
            catalog.drop_table(source)
        console.print(
            "cleanup: dropped the pipeline's tables (enable_cleanup=true); their lineage stays in the store"
        )


def _uses_remote() -> bool:
    import os

    return bool(os.environ.get("OPENLINEAGE_URL"))


@friendly_errors
def run(
    pipeline: Annotated[Path, typer.Argument(help="Pipeline YAML file.")],
    param: ParamOption = None,
    engine: Annotated[str, typer.Option(help="Execution engine.")] = "duckdb",
    catalog_dir: Annotated[
        Path, typer.Option("--catalog-dir", help="Local Iceberg SQL catalog directory.")
    ] = Path("./headwater-catalog"),
    catalog: Annotated[
        list[str] | None,
        typer.Option(
            "--catalog",
            help="pyiceberg catalog property key=value (e.g. type=rest, uri=...), repeatable; replaces the local catalog.",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Run a pipeline; every step emits OpenLineage events (to the local store, or OPENLINEAGE_URL)."""
    if engine != "duckdb":
        raise fail(f"engine {engine!r} is not available; use --engine duckdb")
    try:
        props = _catalog_properties(catalog)
        _execute(
            pipeline,
            parse_params(param or []),
            None if props else catalog_dir,
            props,
            db,
            summary=False,
        )
    except (PipelineError, CatalogError) as exc:
        raise fail(str(exc)) from None


@friendly_errors
def demo(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where everything the demo creates is kept.")
    ] = Path("./headwater-demo"),
    param: ParamOption = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Delete the directory first.")] = False,
) -> None:
    """Run the reference retail pipeline on DuckDB + Iceberg and show its lineage."""
    params = parse_params(param or [])
    params.setdefault("seed", str(random.randint(1, 1_000_000)))
    if fresh and directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{(directory / 'headwater.db').resolve()}"
    console.print(
        f"Headwater demo in [bold]{directory.resolve()}[/]: Iceberg catalog {directory / 'catalog'}, lineage store {db}, seed {params['seed']}"
    )
    try:
        _execute(REFERENCE, params, directory / "catalog", {}, db, summary=True)
    except (PipelineError, CatalogError) as exc:
        raise fail(str(exc)) from None
    console.print(Rule())
    console.print(
        f"Browse it: [bold]headwater serve --db {db}[/]  (Marquez-compatible API on http://127.0.0.1:5000)"
    )
    console.print(f"Or ask:    [bold]headwater jobs --db {db}[/]")


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``demo``."""
    app.command("run")(run)
    app.command("demo")(demo)


__all__ = ["register", "resolve_url"]
