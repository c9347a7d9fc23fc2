"""Run a pipeline on Spark, with lineage captured from Spark's own plans.

The same pipeline files as the DuckDB runner: sources are generated and saved as catalog tables,
each step's SQL (transpiled from DuckDB to Spark SQL with sqlglot) replaces its target table with
the scenario's table properties, and its checks run over the written table. Lineage is not
computed from the SQL here: :mod:`headwater.capture.spark` reads every write's analyzed logical
plan, exactly as it would for any Spark job; the runner only names each step's job and adds the
pipeline's facets (parent run, nominal time, ownership, documentation, audit).

Tables live in the session's catalog: Iceberg when the user configured the Iceberg Spark runtime,
otherwise Spark's own (parquet) tables in ``spark.sql.warehouse.dir``.
"""

from __future__ import annotations

import traceback
from contextlib import nullcontext
from typing import Any

import sqlglot
from openlineage.client import OpenLineageClient
from openlineage.client.uuid import generate_new_uuid

from headwater import __version__
from headwater.capture import facets as f
from headwater.capture.iceberg import Snapshot
from headwater.capture.quality import emit_check_run
from headwater.capture.spark import SparkTracker, identifier_text, table_dataset
from headwater.pipelines.checks import column_metrics, run_checks
from headwater.pipelines.runner import (
    PipelineResult,
    Progress,
    StepFailed,
    StepResult,
    _identifier,
    _nominal,
    generated_sources,
    pipeline_run,
)
from headwater.pipelines.spec import Pipeline, PipelineError, Step

INSTALL_HINT = (
    "the Spark engine needs PySpark and Java 17: pip install 'headwater[spark]' "
    "and a JDK (apt-get install openjdk-17-jre-headless)"
)


def spark_session(master: str = "local[*]", app_name: str = "headwater", **conf: str) -> Any:
    """A SparkSession for pipelines (``spark.*`` settings in ``conf``), with a clear install hint.

    Raises:
        PipelineError: when PySpark or Java is missing.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise PipelineError(INSTALL_HINT) from None
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        # `owner` is a reserved table property in Spark; the scenario sets it on every table
        .config("spark.sql.legacy.notReserveProperties", "true")
    )
    for key, value in conf.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as exc:  # py4j raises a bare Exception when Java cannot start
        if "JAVA" in str(exc).upper():
            raise PipelineError(f"{INSTALL_HINT} ({exc})") from None
        raise
    spark.sparkContext.setLogLevel("ERROR")
    return spark


class SparkRunner:
    """Runs pipelines on a SparkSession, emitting lineage through ``client`` (None: capture off)."""

    def __init__(
        self, spark: Any, client: OpenLineageClient | None, progress: Progress | None = None
    ) -> None:
        self.spark = spark
        self.client = client
        self.progress = progress or (lambda _: None)
        self.spark.conf.set("spark.sql.legacy.notReserveProperties", "true")

    def run(self, pipeline: Pipeline) -> PipelineResult:
        """Run every source and step in order; raise :class:`StepFailed` on the first failure.

        Each step runs in the pipeline's database; the session's current database is the one it
        had before once the run ends, whatever the outcome.
        """
        result = PipelineResult(pipeline, str(generate_new_uuid()))
        current = self.spark.catalog.currentDatabase()
        engine = f.processing_engine_facet("spark", self.spark.version)
        tracker = None
        if self.client is not None:
            tracker = SparkTracker(self.spark, self.client, pipeline.namespace).start(
                application=False
            )
        with pipeline_run(self.client, pipeline, result.run_id, engine):
            try:
                self.spark.sql(f"CREATE DATABASE IF NOT EXISTS {_quote(pipeline.database)}")
                self._load_sources(pipeline, result, tracker)
                for step in pipeline.steps:
                    result.steps.append(self._run_step(pipeline, step, result.run_id, tracker))
            finally:
                self.spark.catalog.setCurrentDatabase(current)
                if tracker is not None:
                    tracker.close()  # the steps' held-back events go before the pipeline's end
        return result

    def _load_sources(
        self, pipeline: Pipeline, result: PipelineResult, tracker: SparkTracker | None
    ) -> None:
        for identifier, source, data in generated_sources(pipeline, self.progress):
            if data is None:
                if not self.spark.catalog.tableExists(identifier):
                    msg = f"pipeline {pipeline.name}: source table {identifier} does not exist in the Spark catalog"
                    raise PipelineError(msg)
                continue
            props = {
                **source.properties,
                "created_by": f"headwater {__version__}",
            }
            # a source is data arriving, not a job: record the table, no run
            context = tracker.job(f"load_{source.table}", suppress=True) if tracker else None
            with context or nullcontext():
                self._replace(identifier, self.spark.createDataFrame(data), props)
            result.sources[identifier] = data.num_rows
            if tracker is not None:
                tracker.emit_dataset(identifier, props)

    def _run_step(
        self, pipeline: Pipeline, step: Step, parent_id: str, tracker: SparkTracker | None
    ) -> StepResult:
        run_id = str(generate_new_uuid())
        target = _identifier(pipeline, step.target)
        self.progress(f"running {step.job} -> {target}")
        try:
            sql = sqlglot.transpile(step.sql, read="duckdb", write="spark")[0]
        except sqlglot.errors.ParseError as exc:
            raise StepFailed(pipeline.name, step.job, f"SQL does not parse: {exc}") from None
        environment = str(pipeline.parameters.get("environment", ""))
        run_facets = {
            "parent": f.parent_facet(parent_id, pipeline.namespace, pipeline.name),
            "nominalTime": f.nominal_time_facet(_nominal(pipeline)),
            "headwater_audit": f.audit_facet(environment, step.description or pipeline.description),
        }
        job_facets: dict[str, Any] = {
            "sql": f.sql_facet(sql, "spark"),
            "jobType": f.job_type_facet(integration="SPARK", job_type="QUERY"),
        }
        if step.owner:
            job_facets["ownership"] = f.ownership_job_facet(step.owner)
        if step.description:
            job_facets["documentation"] = f.documentation_job_facet(step.description)
        output_facets: dict[str, Any] = {}
        if step.owner or pipeline.owner:
            output_facets["ownership"] = f.ownership_dataset_facet(
                str(step.owner or pipeline.owner)
            )
        if step.description:
            output_facets["documentation"] = f.documentation_dataset_facet(step.description)
        self.spark.catalog.setCurrentDatabase(pipeline.database)
        context = (
            tracker.job(
                step.job,
                namespace=pipeline.namespace,
                job_facets=job_facets,
                run_facets=run_facets,
                output_facets=output_facets,
                run_id=run_id,
            )
            if tracker
            else None
        )
        try:
            with context or nullcontext():
                frame = self.spark.sql(sql)
                inputs = sorted(_tables_read(frame))
                props = _properties(pipeline, step, inputs, run_id)
                self._replace(target, frame, props)
            written = self.spark.table(target)
            data = written.toArrow() if step.checks else None
            checks = (
                run_checks(
                    target,
                    data,
                    step.checks,
                    lambda t: self.spark.table(_identifier(pipeline, t)).toArrow(),
                )
                if data is not None
                else []
            )
        except Exception as exc:
            if tracker is not None:  # when Spark never ran the write (bad SQL), say so ourselves
                tracker.fail_job(
                    run_id,
                    pipeline.namespace,
                    step.job,
                    _cause(exc),
                    traceback.format_exc(),
                    run_facets=run_facets,
                    job_facets=job_facets,
                )
            raise StepFailed(pipeline.name, step.job, _cause(exc)) from exc
        if checks and data is not None and self.client is not None:
            self._emit_checks(pipeline, step, target, checks, run_id, data)
        stats = tracker.statistics_of(run_id) if tracker else {}
        rows = stats.get("rows", 0) if stats else written.count()
        snapshot = Snapshot(0, rows, stats.get("bytes", 0), stats.get("files", 0), {})
        return StepResult(step.job, run_id, target, rows, snapshot, inputs, None, checks)

    def _emit_checks(
        self,
        pipeline: Pipeline,
        step: Step,
        target: str,
        checks: list[Any],
        parent: str,
        data: Any,
    ) -> None:
        """The step's check results as a `<job>.quality_checks` run, as the DuckDB runner does."""
        assert self.client is not None
        named = table_dataset(self.spark, target)
        if named is None:
            return
        namespace, name = named
        emit_check_run(
            self.client,
            pipeline.namespace,
            f"{step.job}.quality_checks",
            (namespace, name, {}),
            checks,
            (parent, pipeline.namespace, step.job),
            column_metrics(data, checks),
        )

    def _replace(self, identifier: str, frame: Any, properties: dict[str, str]) -> None:
        self.spark.sql(f"DROP TABLE IF EXISTS {_quote(identifier)}")
        writer = frame.writeTo(identifier).using("parquet")
        for key, value in properties.items():
            if value:
                writer = writer.tableProperty(key, value)
        writer.create()


def _properties(pipeline: Pipeline, step: Step, inputs: list[str], run_id: str) -> dict[str, str]:
    props = {
        "description": step.description or "",
        "owner": step.owner or pipeline.owner or "",
        "upstream_tables": ",".join(inputs),
        "transformation": step.transformation or "",
        "business_logic": step.business_logic or "",
        "lineage_job": f"{pipeline.namespace}.{step.job}",
        "lineage_run_id": run_id,
        "quality_checks": step.quality_checks or ", ".join(c.name for c in step.checks),
        "refresh_frequency": step.refresh_frequency or "",
        "created_by": f"headwater {__version__}",
        **step.properties,
    }
    return {k: v for k, v in props.items() if v}


def _tables_read(frame: Any) -> set[str]:
    """Catalog tables a DataFrame reads (from its analyzed plan's relations)."""
    found: set[str] = set()
    leaves = frame._jdf.queryExecution().analyzed().collectLeaves()
    for i in range(leaves.size()):
        leaf = leaves.apply(i)
        try:
            table = leaf.catalogTable()
            if table.isDefined():
                found.add(identifier_text(table.get().identifier()))
        except Exception:
            continue
    return found


def _quote(identifier: str) -> str:
    return ".".join(f"`{part.replace('`', '``')}`" for part in identifier.split("."))


def _cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text
