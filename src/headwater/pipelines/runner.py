"""Run a pipeline on DuckDB over Iceberg, with automatic OpenLineage capture.

Each step: read its inputs (found by the SQL lineage engine) from Iceberg into
Arrow, run its SELECT in DuckDB, commit the result as one Iceberg snapshot with
the scenario's table properties, run its checks, and emit START then COMPLETE
(or FAIL) with schema, versions, statistics, ownership and column lineage. A
failing step commits nothing; earlier steps' snapshots stay as they are.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import DatasetEvent, RunState, StaticDataset
from openlineage.client.uuid import generate_new_uuid
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from headwater import PRODUCER, __version__
from headwater.capture import facets as f
from headwater.capture.iceberg import (
    CatalogError,
    Snapshot,
    commit_table,
    dataset_name,
    read_table,
    schema_fields,
    snapshot_of,
    table_exists,
)
from headwater.capture.quality import emit_check_run
from headwater.capture.transport import flush
from headwater.pipelines.checks import CheckResult, column_metrics, run_checks
from headwater.pipelines.generate import GENERATORS
from headwater.pipelines.spec import Pipeline, PipelineError, Source, Step
from headwater.sql import DatasetRef, StatementLineage, analyze

Progress = Callable[[str], None]


class StepFailed(RuntimeError):
    """A step failed; the message names the pipeline, the step and the cause."""

    def __init__(self, pipeline: str, step: str, cause: str) -> None:
        self.pipeline, self.step, self.cause = pipeline, step, cause
        super().__init__(f"pipeline {pipeline}, step {step}: {cause}")


@dataclass
class StepResult:
    """What a step produced."""

    job: str
    run_id: str
    target: str
    rows: int
    snapshot: Snapshot
    inputs: list[str]
    lineage: StatementLineage | None
    checks: list[CheckResult] = field(default_factory=list)


@dataclass
class PipelineResult:
    """The outcome of a pipeline run."""

    pipeline: Pipeline
    run_id: str
    sources: dict[str, int] = field(default_factory=dict)
    steps: list[StepResult] = field(default_factory=list)


class Runner:
    """Runs pipelines against a catalog, emitting lineage through ``client`` (None: capture off).

    Args:
        catalog: the pyiceberg catalog holding the tables.
        client: the OpenLineage client (see :func:`headwater.capture.transport.make_client`), or None.
        progress: called with a short message as work advances.
    """

    def __init__(
        self, catalog: Catalog, client: OpenLineageClient | None, progress: Progress | None = None
    ) -> None:
        self.catalog = catalog
        self.client = client
        self.progress = progress or (lambda _: None)
        self._tables: dict[str, Any] = {}  # loaded tables, until this run commits to them

    # -- emission ----------------------------------------------------------------------------
    def _emit(self, event: Any) -> None:
        if self.client is not None:
            self.client.emit(event)

    def _table(self, identifier: str) -> Any:
        """The catalog's table, loaded once until this run commits to it."""
        if identifier not in self._tables:
            self._tables[identifier] = self.catalog.load_table(identifier)
        return self._tables[identifier]

    def _exists(self, identifier: str) -> bool:
        try:
            self._table(identifier)
        except NoSuchTableError:
            return False
        return True

    def _commit(self, identifier: str, data: pa.Table, properties: dict[str, str]) -> Snapshot:
        self._tables.pop(identifier, None)
        return commit_table(self.catalog, identifier, data, properties)

    def _dataset(
        self,
        identifier: str,
        snapshot: Snapshot | None = None,
        properties: dict[str, str] | None = None,
    ) -> tuple[str, str, dict[str, Any]]:
        table = self._table(identifier)
        namespace, name, symlinks = dataset_name(self.catalog, identifier, table)
        facets: dict[str, Any] = {
            "symlinks": symlinks,
            "schema": f.schema_facet(schema_fields(self.catalog, identifier, table)),
            "dataSource": f.datasource_facet(
                f"iceberg://{self.catalog.name}", f"iceberg://{self.catalog.name}"
            ),
        }
        if snapshot is not None:
            facets["version"] = f.version_facet(str(snapshot.snapshot_id))
        props = properties if properties is not None else dict(table.properties)
        facets.update(f.table_property_facets(props, "ICEBERG_PROPERTIES"))
        return namespace, name, facets

    # -- pipeline ----------------------------------------------------------------------------
    def run(self, pipeline: Pipeline) -> PipelineResult:
        """Run every source and step in order; raise :class:`StepFailed` on the first failure."""
        result = PipelineResult(pipeline, str(generate_new_uuid()))
        self._tables.clear()  # tables may have changed since the last run
        engine = f.processing_engine_facet("duckdb", duckdb.__version__)
        with pipeline_run(self.client, pipeline, result.run_id, engine):
            self._load_sources(pipeline, result)
            original: dict[str, set[str]] = {}
            for step in pipeline.steps:
                result.steps.append(self._run_step(pipeline, step, result.run_id, original))
        return result

    def _load_sources(self, pipeline: Pipeline, result: PipelineResult) -> None:
        for identifier, source, data in generated_sources(pipeline, self.progress):
            if data is None:
                if not table_exists(self.catalog, identifier):
                    msg = f"pipeline {pipeline.name}: source table {identifier} does not exist in catalog {self.catalog.name!r}"
                    raise PipelineError(msg)
                continue
            props = {
                **source.properties,
                "created_by": f"headwater {__version__}",
                "lineage_job": "",
                "upstream_tables": "",
            }
            snapshot = self._commit(identifier, data, {k: v for k, v in props.items() if v})
            result.sources[identifier] = snapshot.rows
            if self.client is None:
                continue  # capture off: no facets to build
            ns, name, dataset_facets = self._dataset(identifier, snapshot)
            self._emit(
                DatasetEvent(
                    eventTime=f.now(),
                    producer=PRODUCER,
                    dataset=StaticDataset(ns, name, facets=dataset_facets),
                )
            )

    def _run_step(
        self, pipeline: Pipeline, step: Step, parent_id: str, original: dict[str, set[str]]
    ) -> StepResult:
        run_id = str(generate_new_uuid())
        target = _identifier(pipeline, step.target)
        self.progress(f"running {step.job} -> {target}")
        schema = self._known_schemas(pipeline)
        statement = f"CREATE TABLE {step.target} AS {step.sql}"
        try:
            analysis = analyze(
                statement, dialect="duckdb", schema=schema, default_namespace="iceberg"
            )
        except ValueError as exc:
            raise StepFailed(pipeline.name, step.job, f"cannot analyse its SQL: {exc}") from None
        if analysis.errors:
            raise StepFailed(pipeline.name, step.job, f"SQL does not parse: {analysis.errors[0]}")
        lineage = analysis.statements[0] if analysis.statements else None
        inputs = [_identifier(pipeline, d.name) for d in (lineage.inputs if lineage else ())]
        environment = str(pipeline.parameters.get("environment", ""))
        run_facets = {
            "parent": f.parent_facet(parent_id, pipeline.namespace, pipeline.name),
            "nominalTime": f.nominal_time_facet(_nominal(pipeline)),
            "processing_engine": f.processing_engine_facet("duckdb", duckdb.__version__),
            "headwater_audit": f.audit_facet(environment, step.description or pipeline.description),
        }
        job_facets: dict[str, Any] = {
            "sql": f.sql_facet(step.sql, "duckdb"),
            "jobType": f.job_type_facet(),
        }
        if step.owner:
            job_facets["ownership"] = f.ownership_job_facet(step.owner)
        if step.description:
            job_facets["documentation"] = f.documentation_job_facet(step.description)
        missing = [i for i in inputs if not self._exists(i)]
        in_datasets: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = []
        snapshots: dict[str, Snapshot] = {}
        if not missing:
            for identifier in inputs:
                snapshots[identifier] = snapshot_of(self._table(identifier))
                if self.client is not None:
                    ns, name, dataset_facets = self._dataset(identifier, snapshots[identifier])
                    in_datasets.append((ns, name, dataset_facets, {}))
        self._emit(
            f.run_event(
                RunState.START,
                run_id,
                pipeline.namespace,
                step.job,
                run_facets,
                job_facets,
                in_datasets,
            )
        )
        try:
            if missing:
                msg = f"input table {missing[0]} does not exist in catalog {self.catalog.name!r}"
                raise CatalogError(msg)
            data = self._compute(step, inputs, snapshots)
            existed = self._exists(target)
            props = self._properties(pipeline, step, target, inputs, run_id, original)
            snapshot = self._commit(target, data, props)
            checks = run_checks(
                target,
                data,
                step.checks,
                lambda t: read_table(self.catalog, _identifier(pipeline, t)),
            )
        except Exception as exc:
            fail = {**run_facets, "errorMessage": f.error_facet(str(exc), traceback.format_exc())}
            self._emit(
                f.run_event(
                    RunState.FAIL,
                    run_id,
                    pipeline.namespace,
                    step.job,
                    fail,
                    job_facets,
                    in_datasets,
                )
            )
            raise StepFailed(pipeline.name, step.job, _cause(exc)) from exc
        if self.client is None:  # capture off: the step's result only
            return StepResult(
                step.job, run_id, target, snapshot.rows, snapshot, inputs, lineage, checks
            )
        ns, name, out_facets = self._dataset(target, snapshot, props)
        out_facets["lifecycleStateChange"] = f.lifecycle_facet("OVERWRITE" if existed else "CREATE")
        if lineage is not None:
            out_facets["columnLineage"] = self._column_lineage(pipeline, lineage)
        stats = {
            "outputStatistics": f.output_statistics_facet(
                snapshot.rows, snapshot.size, snapshot.files
            )
        }
        self._emit(
            f.run_event(
                RunState.COMPLETE,
                run_id,
                pipeline.namespace,
                step.job,
                run_facets,
                job_facets,
                in_datasets,
                [(ns, name, out_facets, stats)],
            )
        )
        if checks:
            self._emit_checks(pipeline, step, target, snapshot, checks, run_id, data)
        return StepResult(
            step.job, run_id, target, snapshot.rows, snapshot, inputs, lineage, checks
        )

    def _emit_checks(
        self,
        pipeline: Pipeline,
        step: Step,
        target: str,
        snapshot: Snapshot,
        checks: list[CheckResult],
        parent: str,
        data: pa.Table,
    ) -> None:
        if self.client is not None:
            dataset = self._dataset(target, snapshot)
            emit_check_run(
                self.client,
                pipeline.namespace,
                f"{step.job}.quality_checks",
                dataset,
                checks,
                (parent, pipeline.namespace, step.job),
                column_metrics(data, checks),
            )

    # -- helpers -----------------------------------------------------------------------------
    def _known_schemas(self, pipeline: Pipeline) -> dict[str, dict[str, str]]:
        schemas: dict[str, dict[str, str]] = {}
        try:
            identifiers = self.catalog.list_tables(pipeline.database)
        except Exception:
            return schemas
        for ident in identifiers:
            name = ident[-1]
            identifier = f"{pipeline.database}.{name}"
            fields = schema_fields(self.catalog, identifier, self._table(identifier))
            schemas[name] = {c["name"]: c["type"] for c in fields}
        return schemas

    def _compute(self, step: Step, inputs: list[str], snapshots: dict[str, Snapshot]) -> pa.Table:
        con = duckdb.connect()
        try:
            for i, identifier in enumerate(inputs):
                arrow = read_table(
                    self.catalog, identifier, snapshots[identifier].snapshot_id or None
                )
                con.register(f"__hw_input_{i}", arrow)
                short = identifier.rsplit(".", 1)[-1]
                con.execute(f'CREATE OR REPLACE VIEW "{short}" AS SELECT * FROM __hw_input_{i}')  # noqa: S608 - names come from the catalog
            return con.sql(step.sql).to_arrow_table()
        finally:
            con.close()

    def _properties(
        self,
        pipeline: Pipeline,
        step: Step,
        target: str,
        inputs: list[str],
        run_id: str,
        original: dict[str, set[str]],
    ) -> dict[str, str]:
        sources: set[str] = set()
        pii = False
        for identifier in inputs:
            sources |= original.get(identifier, {identifier})
            if self._table(identifier).properties.get("pii_data") == "true":
                pii = True
        original[target] = sources
        props = {
            "description": step.description or "",
            "owner": step.owner or pipeline.owner or "",
            "pii_data": "true" if pii else "false",
            "upstream_tables": ",".join(inputs),
            "upstream_original": ",".join(sorted(sources)),
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

    def _column_lineage(self, pipeline: Pipeline, lineage: StatementLineage) -> dict[str, Any]:
        """The engine's facet with SQL table names mapped to the Iceberg datasets' OpenLineage names."""
        names: dict[DatasetRef, tuple[str, str]] = {}
        for ref in lineage.inputs:
            ns, name, _ = dataset_name(self.catalog, _identifier(pipeline, ref.name))
            names[ref] = (ns, name)
        facet = lineage.column_lineage_facet()

        def remap(item: dict[str, Any]) -> dict[str, Any]:
            ns, name = names.get(
                DatasetRef(item["namespace"], item["name"]), (item["namespace"], item["name"])
            )
            return {**item, "namespace": ns, "name": name}

        facet["fields"] = {
            k: {"inputFields": [remap(i) for i in v["inputFields"]]}
            for k, v in facet["fields"].items()
        }
        facet["dataset"] = [remap(i) for i in facet["dataset"]]
        return facet


@contextmanager
def pipeline_run(
    client: OpenLineageClient | None, pipeline: Pipeline, run_id: str, engine: dict[str, Any]
) -> Iterator[None]:
    """The pipeline's own run around its steps: START, then COMPLETE, or FAIL and re-raise.

    Shared by the DuckDB and Spark runners; ``engine`` is the ``processing_engine`` facet. Queued
    events are stored (flushed) before the outcome is reported and at the end.
    """
    environment = str(pipeline.parameters.get("environment", ""))
    run_facets = {
        "nominalTime": f.nominal_time_facet(_nominal(pipeline)),
        "processing_engine": engine,
        "headwater_audit": f.audit_facet(environment, pipeline.description),
    }
    job_facets = {
        "jobType": f.job_type_facet(job_type="DAG"),
        "documentation": f.documentation_job_facet(pipeline.description),
    }
    if pipeline.owner:
        job_facets["ownership"] = f.ownership_job_facet(pipeline.owner)
    location = f.source_code_location_facet(pipeline.path) if client else None
    if location:
        job_facets["sourceCodeLocation"] = location

    def emit(state: RunState, facets: dict[str, Any]) -> None:
        if client is not None:
            client.emit(
                f.run_event(state, run_id, pipeline.namespace, pipeline.name, facets, job_facets)
            )

    emit(RunState.START, run_facets)
    try:
        yield
    except (StepFailed, PipelineError, CatalogError) as exc:
        emit(RunState.FAIL, {**run_facets, "errorMessage": f.error_facet(str(exc))})
        raise
    finally:
        flush(client)  # queued events are stored before anyone reads the lineage
    emit(RunState.COMPLETE, run_facets)
    flush(client)


def generated_sources(
    pipeline: Pipeline, progress: Progress
) -> Iterator[tuple[str, Source, pa.Table | None]]:
    """Each source's identifier and its generated rows (None: the table must already exist).

    Raises:
        PipelineError: an unknown generator.
    """
    seed = int(str(pipeline.parameters.get("seed", 0) or 0).replace("_", ""))  # validated on load
    sizes = {s.generator: s.rows for s in pipeline.sources if s.generator}
    for index, source in enumerate(pipeline.sources):
        identifier = _identifier(pipeline, source.table)
        if source.generator is None:
            yield identifier, source, None
            continue
        generator = GENERATORS.get(source.generator)
        if generator is None:
            msg = f"pipeline {pipeline.name}: unknown generator {source.generator!r} (known: {', '.join(GENERATORS)})"
            raise PipelineError(msg)
        progress(f"generating {source.rows:,} rows of {identifier}")
        yield identifier, source, generator(source.rows, np.random.default_rng(seed + index), sizes)


def _identifier(pipeline: Pipeline, table: str) -> str:
    return table if "." in table else f"{pipeline.database}.{table}"


def _nominal(pipeline: Pipeline) -> str:
    value = str(pipeline.parameters.get("execution_date", ""))
    return f"{value}T00:00:00Z" if value and "T" not in value else value or f.now()


def _cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"{type(exc).__name__}: {text}" if isinstance(exc, duckdb.Error) else text
