"""``headwater run`` and ``headwater demo``: pipelines with automatic lineage capture."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.rule import Rule

from headwater.cli.common import DbOption, console, fail, friendly_errors
from headwater.model.nodes import DatasetId
from headwater.pipelines.spec import REFERENCE, PipelineError, load_pipeline, parse_params
from headwater.store import open_store, resolve_url

if TYPE_CHECKING:
    from headwater.pipelines import Runner

# The engines (DuckDB, pyiceberg, Spark) and the OpenLineage client are imported by the commands
# that run a pipeline, not when the CLI starts: `headwater --help` and the read commands start in
# a fraction of the time.

ParamOption = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="Override a parameter: key=value (repeatable)."),
]


EngineOption = Annotated[
    str, typer.Option(help="Execution engine: duckdb (over Iceberg) or spark.")
]
MasterOption = Annotated[
    str,
    typer.Option(
        "--master", help="Spark master (engine spark), e.g. local[4] or spark://host:7077."
    ),
]
SparkConfOption = Annotated[
    list[str] | None,
    typer.Option("--spark-conf", help="Spark setting key=value (engine spark), repeatable."),
]


def _engine(name: str, master: str, conf: list[str] | None) -> Engine:
    if name not in ("duckdb", "spark"):
        raise fail(f"unknown engine {name!r}; use --engine duckdb or --engine spark")
    return Engine(name, master, parse_params(conf or []))


def _catalog_properties(pairs: list[str] | None) -> dict[str, str]:
    return parse_params(pairs or [])


@dataclass
class Engine:
    """Where a pipeline runs: ``duckdb`` (over an Iceberg catalog) or ``spark``."""

    name: str = "duckdb"
    master: str = "local[*]"
    conf: dict[str, str] = field(default_factory=dict)


def _execute(
    pipeline_file: Path,
    params: dict[str, str],
    catalog_dir: Path | None,
    catalog_props: dict[str, str],
    db: str | None,
    *,
    summary: bool,
    engine: Engine | None = None,
) -> None:
    from headwater.capture.iceberg import dataset_name, open_catalog
    from headwater.capture.transport import make_client
    from headwater.pipelines import Runner, StepFailed
    from headwater.pipelines import summary as show
    from headwater.pipelines.validate import validate

    pipeline = load_pipeline(pipeline_file, params)
    engine = engine or Engine()
    spark = None
    if engine.name == "spark":
        from headwater.pipelines.spark_runner import spark_session

        console.print(f"starting Spark ({engine.master})")
        spark = spark_session(engine.master, f"headwater-{pipeline.name}", **engine.conf)
    else:
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

        if spark is not None:
            from headwater.pipelines.spark_runner import SparkRunner

            runner: Runner | SparkRunner = SparkRunner(spark, client, progress=advance)
        else:
            runner = Runner(catalog, client, progress=advance)
        try:
            result = runner.run(pipeline)
        except StepFailed as exc:
            raise fail(
                f"{exc} (a FAIL event was recorded; earlier steps' tables are unchanged)"
            ) from None
    console.print(f"[green]pipeline {pipeline.name} completed[/] (run {result.run_id})")
    if not summary or store is None:
        return
    console.print(show.tables(result))
    target = result.steps[-1].target

    def dataset(identifier: str) -> DatasetId:
        if spark is not None:
            from headwater.capture.spark import table_dataset

            ns, name = table_dataset(spark, identifier) or ("spark", identifier)
        else:
            ns, name, _ = dataset_name(catalog, identifier)
        return DatasetId(ns, name)

    console.print(Rule("Lineage"))
    console.print(show.lineage_tree(store, dataset(target), target))
    console.print(show.column_table(store, dataset(target), target))
    if "customers_table" in pipeline.parameters:
        customers = f"{pipeline.database}.{pipeline.parameters['customers_table']}"
        console.print(show.dependents(store, dataset(customers), customers))
    if spark is not None:
        console.print(show.checks(result))
        console.print(
            "Spark run: the row-level root cause and the validation suite read Iceberg "
            "snapshots and run on the DuckDB engine (headwater demo without --engine)."
        )
        return
    if "customers_table" in pipeline.parameters:
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
    engine: EngineOption = "duckdb",
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
    master: MasterOption = "local[*]",
    spark_conf: SparkConfOption = None,
) -> None:
    """Run a pipeline; every step emits OpenLineage events (to the local store, or OPENLINEAGE_URL)."""
    from headwater.capture.iceberg import CatalogError

    try:
        props = _catalog_properties(catalog)
        _execute(
            pipeline,
            parse_params(param or []),
            None if props else catalog_dir,
            props,
            db,
            summary=False,
            engine=_engine(engine, master, spark_conf),
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
    engine: EngineOption = "duckdb",
    master: MasterOption = "local[*]",
    spark_conf: SparkConfOption = None,
) -> None:
    """Run the reference retail pipeline (DuckDB + Iceberg, or Spark) and show its lineage."""
    from headwater.capture.iceberg import CatalogError

    chosen = _engine(engine, master, spark_conf)
    if chosen.name == "spark":
        chosen.conf.setdefault(
            "spark.sql.warehouse.dir", str((directory / "spark-warehouse").resolve())
        )
        chosen.conf.setdefault(
            "spark.driver.extraJavaOptions", f"-Dderby.system.home={directory.resolve()}"
        )
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
        _execute(REFERENCE, params, directory / "catalog", {}, db, summary=True, engine=chosen)
    except (PipelineError, CatalogError) as exc:
        raise fail(str(exc)) from None
    console.print(Rule())
    serve = f"headwater serve --db {db}"
    if chosen.name == "duckdb":
        serve += f" --catalog-dir {directory / 'catalog'}"  # root-cause traces read the snapshots
    console.print(
        f"Browse it: [bold]{serve}[/]  (web UI and Marquez-compatible API on http://127.0.0.1:5000)"
    )
    console.print(f"Or ask:    [bold]headwater jobs --db {db}[/]")


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``demo``."""
    app.command("run")(run)
    app.command("demo")(demo)


__all__ = ["register", "resolve_url"]
