"""Automatic OpenLineage capture for PySpark, with no JVM jar: a ``QueryExecutionListener`` via py4j.

>>> tracker = track(spark)            # doctest: +SKIP
>>> spark.sql("CREATE TABLE t USING parquet AS SELECT ...")   # START + COMPLETE are emitted

After every action that writes data (``spark.sql`` CTAS / INSERT, ``df.write.saveAsTable /
insertInto / save / parquet``, ``df.writeTo(...)``) Spark calls the listener with the action's
``QueryExecution``. The listener reads the analyzed logical plan as JSON (one py4j call),
derives column lineage from it with :mod:`headwater.sql.spark_plan` (by ``exprId``, so it works
for the DataFrame API as well as SQL), names datasets per OpenLineage naming (the storage
location, with a ``symlinks`` entry to the catalog table, like the OpenLineage Spark agent),
reads row/byte/file counts from the write's metrics, and emits START and COMPLETE (or FAIL with
the Java error) through the official client. Spark calls the listener after the action, so
START carries the action's start time (end minus its duration).

Capture never raises into the job: errors are logged (``headwater.capture.spark``) and counted
in :attr:`SparkTracker.errors`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import RunState
from openlineage.client.uuid import generate_new_uuid

from headwater.capture import facets as f
from headwater.capture.transport import flush, make_client
from headwater.sql.model import DatasetRef
from headwater.sql.spark_plan import (
    PlanError,
    PlanNode,
    parse_plan,
    plan_lineage,
    snake_case,
    write_query,
)

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "Spark capture needs PySpark and Java 17: pip install 'headwater[spark]' "
    "and install a JDK (e.g. apt-get install openjdk-17-jre-headless)"
)
# Write commands whose plan carries the table or path written.
TABLE_WRITES = frozenset(
    {
        "CreateDataSourceTableAsSelectCommand",
        "CreateHiveTableAsSelectCommand",
        "OptimizedCreateHiveTableAsSelectCommand",
        "InsertIntoHiveTable",
        "InsertIntoHadoopFsRelationCommand",
        "SaveIntoDataSourceCommand",
        "AppendData",
        "OverwriteByExpression",
        "OverwritePartitionsDynamic",
        "CreateTableAsSelect",
        "ReplaceTableAsSelect",
        "MergeIntoTable",
    }
)
CREATES = frozenset(
    {
        "CreateDataSourceTableAsSelectCommand",
        "CreateHiveTableAsSelectCommand",
        "OptimizedCreateHiveTableAsSelectCommand",
        "CreateTableAsSelect",
    }
)
# What a write looks like before analysis (for actions that fail to analyse).
UNRESOLVED_WRITES = frozenset(
    {
        "InsertIntoStatement",
        "CreateTableAsSelect",
        "ReplaceTableAsSelect",
        "AppendData",
        "OverwriteByExpression",
        "OverwritePartitionsDynamic",
        "CreateTable",
        "MergeIntoTable",
    }
)
# The listener registered with each SparkSession (by the session's Java hash code).
_LISTENERS: dict[int, _Listener] = {}
SPARK_PROPERTIES_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet"
Dataset = tuple[str, str, dict[str, Any], dict[str, Any]]


def dataset_from_location(location: str) -> tuple[str, str]:
    """OpenLineage (namespace, name) of a storage location (``file:/x`` -> ``("file", "/x")``)."""
    parsed = urlparse(location)
    scheme = parsed.scheme or "file"
    if scheme == "file":
        return "file", parsed.path or location
    if scheme in ("s3a", "s3n"):
        scheme = "s3"
    if scheme in ("s3", "gs", "wasbs", "abfss"):
        return f"{scheme}://{parsed.netloc}", parsed.path.lstrip("/")
    return f"{scheme}://{parsed.netloc}", parsed.path


@dataclass
class JobContext:
    """What the code around a write says about it (the pipeline runner sets this per step)."""

    name: str | None = None
    namespace: str | None = None
    job_facets: dict[str, Any] = field(default_factory=dict)
    run_facets: dict[str, Any] = field(default_factory=dict)
    output_facets: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    suppress: bool = False


@dataclass
class _Write:
    command: str
    plan: PlanNode
    output: tuple[str, str, str | None] | None  # namespace, name, table identifier
    names: dict[int, Dataset]
    schema: list[dict[str, str]]
    statistics: dict[str, int]
    sql: str | None
    mode: str
    started: datetime
    ended: datetime
    query_ids: tuple[int, ...]
    query: Any = None  # the Java query plan, for a deferred read of names and schema


# Commands whose own executed plan has no write metrics (their inner file write has them).
NO_METRICS = frozenset({"CreateDataSourceTableAsSelectCommand", "SaveIntoDataSourceCommand"})


class SparkTracker:
    """Lineage capture for one SparkSession; create it with :func:`track`.

    Attributes:
        namespace: the OpenLineage job namespace.
        run_id: the run id of the Spark application (the parent of every write's run).
        errors: capture errors (logged; never raised into the job).
        emitted: how many write runs were emitted.
        capture_seconds: time spent in the listener (reading plans, emitting), on Spark's
            listener bus thread, not the job's.
    """

    def __init__(self, spark: Any, client: OpenLineageClient, namespace: str) -> None:
        self.spark = spark
        self.client = client
        self.namespace = namespace
        self.run_id = str(generate_new_uuid())
        self.errors: list[str] = []
        self.emitted = 0
        self.capture_seconds = 0.0
        self._jvm = spark.sparkContext._jvm
        self._app = spark.sparkContext.appName
        self._context = JobContext()
        self._statistics: dict[str, dict[str, int]] = {}
        self._emitted_runs: set[str] = set()
        self._application = True
        self._pending: _Write | None = None
        self._lock = threading.RLock()
        self._listener: _Listener | None = None
        self._warehouse = _location_uri(spark.conf.get("spark.sql.warehouse.dir", ""))
        self._version = spark.version
        self._properties = {
            "spark.master": spark.sparkContext.master,
            "spark.app.name": self._app,
        }

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, application: bool = True) -> SparkTracker:
        """Register the listener; with ``application``, emit the Spark application's START.

        Without it (the pipeline runner), each write's parent comes from :meth:`job`.
        """
        from pyspark.java_gateway import ensure_callback_server_started

        self._application = application
        if application:
            self._emit_app(RunState.START)
        ensure_callback_server_started(self.spark.sparkContext._gateway)
        # One listener per session, registered once: Spark cannot unregister a py4j proxy (each
        # call makes a new Java proxy object), so trackers attach to and detach from it instead.
        key = int(self.spark._jsparkSession.hashCode())
        listener = _LISTENERS.get(key)
        if listener is None:
            listener = _LISTENERS[key] = _Listener()
            self.spark._jsparkSession.listenerManager().register(listener)
        listener.trackers.append(self)
        self._listener = listener
        return self

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until Spark delivered every finished action to the listener and it was emitted."""
        deadline = time.monotonic() + timeout
        # the listener bus is asynchronous: wait for it to drain, then emit a held-back write
        try:
            self.spark.sparkContext._jsc.sc().listenerBus().waitUntilEmpty(
                max(1, int((deadline - time.monotonic()) * 1000))
            )
        except Exception as exc:  # older Sparks: best effort
            log.debug("listener bus not drained: %s", exc)
        with self._lock:
            self._release()
        flush(self.client)

    def close(self) -> None:
        """Flush, unregister the listener and emit the application's COMPLETE."""
        if self._listener is None:
            return
        self.flush()
        if self in self._listener.trackers:
            self._listener.trackers.remove(self)
        self._listener = None
        if self._application:
            self._emit_app(RunState.COMPLETE)
        flush(self.client)

    def __enter__(self) -> SparkTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def job(
        self,
        name: str,
        *,
        namespace: str | None = None,
        job_facets: dict[str, Any] | None = None,
        run_facets: dict[str, Any] | None = None,
        output_facets: dict[str, Any] | None = None,
        run_id: str | None = None,
        suppress: bool = False,
    ) -> Iterator[JobContext]:
        """Name the writes made inside the block and attach facets to their events.

        The block's writes are flushed (emitted) before it exits, so lineage is stored when the
        block ends. With ``suppress`` the block's writes are not reported at all.
        """
        self.flush()
        previous = self._context
        self._context = JobContext(
            name,
            namespace,
            dict(job_facets or {}),
            dict(run_facets or {}),
            dict(output_facets or {}),
            run_id,
            suppress,
        )
        try:
            yield self._context
        finally:
            self.flush()
            self._context = previous

    def statistics_of(self, run_id: str) -> dict[str, int]:
        """rows / bytes / files written by the run ``run_id`` (empty when Spark gave no metrics)."""
        return dict(self._statistics.get(run_id, {}))

    def fail_job(
        self,
        run_id: str,
        namespace: str,
        name: str,
        message: str,
        stack: str | None = None,
        *,
        run_facets: dict[str, Any] | None = None,
        job_facets: dict[str, Any] | None = None,
    ) -> None:
        """Emit START and FAIL for a job whose write Spark never ran (e.g. its SQL did not analyse).

        Does nothing when the listener already reported run ``run_id``.
        """
        self.flush()
        if run_id in self._emitted_runs:
            return
        facets = {**self._run_facets(), **(run_facets or {})}
        jobs = {**self._job_facets(None), **(job_facets or {})}
        self._emit(f.run_event(RunState.START, run_id, namespace, name, facets, jobs))
        failed = {**facets, "errorMessage": f.error_facet(message, stack)}
        self._emit(f.run_event(RunState.FAIL, run_id, namespace, name, failed, jobs))
        self._emitted_runs.add(run_id)
        flush(self.client)

    def emit_dataset(self, identifier: str, properties: dict[str, str] | None = None) -> None:
        """Emit a DatasetEvent for catalog table ``identifier`` (data that arrived without a job)."""
        from openlineage.client.event_v2 import DatasetEvent, StaticDataset

        from headwater import PRODUCER

        jss = self.spark._jsparkSession
        table = jss.sessionState().sqlParser().parseTableIdentifier(identifier)
        location = self._table_location(table)
        if location is None:
            self._error(f"table {identifier}: no location; dataset not reported")
            return
        namespace, name = dataset_from_location(location)
        schema = jss.table(identifier).schema().json()
        facets: dict[str, Any] = {
            "schema": f.schema_facet(_schema_fields(schema)),
            "dataSource": f.datasource_facet(namespace, namespace),
            "symlinks": self._symlinks(identifier_text(table)),
        }
        facets.update(f.table_property_facets(properties or {}, "TABLE_PROPERTIES"))
        self._emit(
            DatasetEvent(
                eventTime=f.now(),
                producer=PRODUCER,
                dataset=StaticDataset(namespace, name, facets=facets),
            )
        )

    # -- listener callbacks ---------------------------------------------------------------------
    def on_success(self, qe: Any, duration_ns: int) -> None:
        """Called by the listener after an action succeeded."""
        with self._lock:
            write = self._read_write(qe, duration_ns, defer=True)
            if write is None:
                return
            pending, self._pending = self._pending, None
            if pending is not None and pending.query_ids == write.query_ids:
                # the inner file write of a CTAS / saveAsTable: one job, with the inner's metrics
                write.statistics = pending.statistics or write.statistics
                write.started = min(write.started, pending.started)
                pending = None
            if pending is not None:
                self._emit_write(pending)
            if write.query is not None:
                self._pending = write  # wait: a CTAS may follow and name the table
                return
            self._emit_write(write)

    def on_failure(self, function: str, qe: Any, exception: Any) -> None:
        """Called by the listener after an action failed: START and FAIL with the Java error."""
        with self._lock:
            self._release()
            context = self._context
            message = _java_message(exception)
            stack = _java_stack(exception)
            try:
                write = self._read_write(qe, 0)
            except Exception:
                write = None  # the plan may not even analyse (a missing table)
            logical = _class_of(qe.logical())
            if write is None and context.name is None and logical not in UNRESOLVED_WRITES:
                return  # a failed read, not a write
            if context.suppress:
                return
            run_id = context.run_id or str(generate_new_uuid())
            self._emitted_runs.add(run_id)
            name = context.name or (
                self._job_name(write) if write else f"{_slug(self._app)}.{snake_case(logical)}"
            )
            run_facets = {**self._run_facets(), **context.run_facets}
            job_facets = self._job_facets(write.sql if write else None)
            inputs = list(write.names.values()) if write else []
            outputs: list[Dataset] = []
            if write is not None and write.output is not None:
                namespace, dataset, identifier = write.output
                out_facets: dict[str, Any] = {
                    "dataSource": f.datasource_facet(namespace, namespace)
                }
                if identifier:
                    out_facets["symlinks"] = self._symlinks(identifier)
                outputs.append((namespace, dataset, out_facets, {}))
            for state, facets in (
                (RunState.START, run_facets),
                (RunState.FAIL, {**run_facets, "errorMessage": f.error_facet(message, stack)}),
            ):
                self._emit(
                    f.run_event(
                        state,
                        run_id,
                        context.namespace or self.namespace,
                        name,
                        facets,
                        job_facets,
                        inputs,
                        outputs,
                    )
                )

    def _release(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            self._emit_write(pending)

    # -- reading a QueryExecution ---------------------------------------------------------------
    def _read_write(self, qe: Any, duration_ns: int, defer: bool = False) -> _Write | None:
        """What a finished action wrote (None: not a write).

        With ``defer``, a file write without a catalog table (maybe the inner half of a CTAS)
        leaves its inputs unread until it is known to be emitted on its own.
        """
        analyzed = qe.analyzed()
        command = _class_of(analyzed)
        if command not in TABLE_WRITES:
            return None
        plan = parse_plan(json.loads(analyzed.toJSON()))
        query = _query_of(analyzed)
        ended = datetime.now(UTC)
        output = self._output_of(analyzed, command)
        write = _Write(
            command=command,
            plan=plan,
            output=output,
            names={},
            schema=[],
            statistics={} if command in NO_METRICS else _write_metrics(qe),
            sql=_sql_text(qe),
            mode=_mode_of(analyzed),
            started=ended - timedelta(microseconds=duration_ns // 1000),
            ended=ended,
            query_ids=_output_ids(write_query(plan)),
            query=query,
        )
        inner = command == "InsertIntoHadoopFsRelationCommand" and (
            output is None or output[2] is None
        )
        if not (defer and inner):
            self._read_inputs(write)
        return write

    def _read_inputs(self, write: _Write) -> None:
        if write.query is not None:
            write.names = self._relations(write.query)
            write.schema = _schema_fields(write.query.schema().json())
            write.query = None

    def _output_of(self, analyzed: Any, command: str) -> tuple[str, str, str | None] | None:
        table = None
        if command in ("CreateDataSourceTableAsSelectCommand",):
            table = analyzed.table().identifier()
        elif command in (
            "CreateHiveTableAsSelectCommand",
            "OptimizedCreateHiveTableAsSelectCommand",
        ):
            table = analyzed.tableDesc().identifier()
        elif command == "InsertIntoHiveTable":
            table = analyzed.table().identifier()
        elif command == "InsertIntoHadoopFsRelationCommand":
            catalog_table = analyzed.catalogTable()
            if catalog_table.isDefined():
                table = catalog_table.get().identifier()
            else:
                namespace, name = dataset_from_location(analyzed.outputPath().toString())
                return namespace, name, None
        elif command == "MergeIntoTable":  # the target: a catalog table (v1) or a V2 relation
            leaves = analyzed.targetTable().collectLeaves()
            leaf = leaves.apply(0) if leaves.size() else None
            if leaf is None:
                return None
            if _class_of(leaf) == "LogicalRelation" and leaf.catalogTable().isDefined():
                table = leaf.catalogTable().get().identifier()
            else:
                ident = str(leaf.name()).strip("`")
                return self._warehouse or "spark", ident, ident
        elif command == "SaveIntoDataSourceCommand":
            options = analyzed.options()
            path = options.get("path")
            if path.isDefined():
                namespace, name = dataset_from_location(_location_uri(path.get()))
                return namespace, name, None
            return None
        else:  # DataSourceV2 writes: the table's name; location when the catalog gives one
            try:
                ident = analyzed.table().name()
            except Exception:
                ident = analyzed.name().toString()
            return f"{self._warehouse}" or "spark", str(ident).strip("`"), str(ident)
        identifier = identifier_text(table)
        location = self._table_location(table)
        if location is None:
            return None
        namespace, name = dataset_from_location(location)
        return namespace, name, identifier

    def _table_location(self, table_identifier: Any) -> str | None:
        try:
            meta = (
                self.spark._jsparkSession.sessionState()
                .catalog()
                .getTableMetadata(table_identifier)
            )
            return str(meta.location().toString())
        except Exception:
            try:
                path = (
                    self.spark._jsparkSession.sessionState()
                    .catalog()
                    .defaultTablePath(table_identifier)
                )
                return str(path.toString())
            except Exception as exc:
                log.debug("no location for %s: %s", table_identifier, exc)
                return None

    def _relations(self, query: Any) -> dict[int, Dataset]:
        """The datasets a query reads, keyed by the exprId of each relation's first column."""
        found: dict[int, Dataset] = {}
        leaves = query.collectLeaves()
        for i in range(leaves.size()):
            leaf = leaves.apply(i)
            kind = str(leaf.getClass().getSimpleName())
            output = leaf.output()
            if output.size() == 0:
                continue
            first = int(output.apply(0).exprId().id())
            location, identifier = None, None
            try:
                if kind == "LogicalRelation":
                    table = leaf.catalogTable()
                    if table.isDefined():
                        identifier = identifier_text(table.get().identifier())
                        location = str(table.get().location().toString())
                    else:
                        location = str(leaf.relation().location().rootPaths().apply(0).toString())
                elif kind == "HiveTableRelation":
                    identifier = identifier_text(leaf.tableMeta().identifier())
                    location = str(leaf.tableMeta().location().toString())
                elif kind in ("DataSourceV2Relation", "DataSourceV2ScanRelation"):
                    identifier = str(leaf.name()).strip("`")
            except Exception as exc:
                log.debug("relation %s not named: %s", kind, exc)
            if location is None and identifier is None:
                continue
            if location is not None:
                namespace, name = dataset_from_location(location)
            else:
                namespace, name = self._warehouse or "spark", str(identifier)
            facets: dict[str, Any] = {
                "schema": f.schema_facet(_schema_fields(leaf.schema().json())),
                "dataSource": f.datasource_facet(namespace, namespace),
            }
            if identifier:
                facets["symlinks"] = self._symlinks(identifier)
            found[first] = (namespace, name, facets, {})
        return found

    def _symlinks(self, identifier: str) -> dict[str, Any]:
        return f.facet(
            "1-0-1/SymlinksDatasetFacet.json#/$defs/SymlinksDatasetFacet",
            identifiers=[{"namespace": self._warehouse, "name": identifier, "type": "TABLE"}],
        )

    # -- emitting -------------------------------------------------------------------------------
    def _emit_write(self, write: _Write) -> None:
        context = self._context
        if context.suppress:
            return
        self._read_inputs(write)  # a held-back file write emitted on its own
        if write.output is None:
            self._error(f"{write.command}: the written dataset could not be named; not emitted")
            return

        def namer(node: PlanNode) -> DatasetRef | None:
            first = _output_ids(node)
            dataset = write.names.get(first[0]) if first else None
            return DatasetRef(dataset[0], dataset[1]) if dataset else None

        namespace, name, identifier = write.output
        output_facets: dict[str, Any] = {
            "schema": f.schema_facet(write.schema),
            "dataSource": f.datasource_facet(namespace, namespace),
            "lifecycleStateChange": f.lifecycle_facet(
                "CREATE"
                if write.command in CREATES
                else "OVERWRITE"
                if write.mode == "Overwrite"
                else "ALTER"
            ),
        }
        if identifier:
            output_facets["symlinks"] = self._symlinks(identifier)
        try:
            lineage = plan_lineage(write.plan, namer)
        except PlanError as exc:
            self._error(f"{write.command}: column lineage not derived: {exc}")
        else:
            statement = lineage.statement(DatasetRef(namespace, name))
            if statement.columns:
                output_facets["columnLineage"] = statement.column_lineage_facet()
        output_facets.update(context.output_facets)
        io_facets: dict[str, Any] = {}
        if write.statistics:
            io_facets["outputStatistics"] = f.output_statistics_facet(
                write.statistics.get("rows", 0),
                write.statistics.get("bytes", 0),
                write.statistics.get("files", 0),
            )
        run_id = context.run_id or str(generate_new_uuid())
        job = context.name or self._job_name(write)
        run_facets = {**self._run_facets(), **context.run_facets}
        job_facets = {**self._job_facets(write.sql), **context.job_facets}
        inputs = list(write.names.values())
        outputs = [(namespace, name, output_facets, io_facets)]
        job_namespace = context.namespace or self.namespace
        start = f.run_event(
            RunState.START, run_id, job_namespace, job, run_facets, job_facets, inputs, outputs
        )
        start.eventTime = write.started.isoformat()
        complete = f.run_event(
            RunState.COMPLETE, run_id, job_namespace, job, run_facets, job_facets, inputs, outputs
        )
        complete.eventTime = write.ended.isoformat()
        self._emit(start)
        self._emit(complete)
        self._statistics[run_id] = dict(write.statistics)
        self._emitted_runs.add(run_id)
        self.emitted += 1

    def _job_name(self, write: _Write) -> str:
        command = "execute_" + snake_case(write.command)
        target = ""
        if write.output is not None:
            namespace, name, identifier = write.output
            target = (identifier or "_".join(name.strip("/").split("/")[-2:])).replace(".", "_")
        return f"{_slug(self._app)}.{command}" + (f".{target}" if target else "")

    def _run_facets(self) -> dict[str, Any]:
        return {
            "parent": f.parent_facet(self.run_id, self.namespace, _slug(self._app)),
            "processing_engine": f.processing_engine_facet("spark", self._version),
            "spark_properties": f.facet(SPARK_PROPERTIES_SCHEMA, properties=self._properties),
        }

    def _job_facets(self, sql: str | None) -> dict[str, Any]:
        facets = {"jobType": f.job_type_facet(integration="SPARK", job_type="SQL_JOB")}
        if sql:
            facets["sql"] = f.sql_facet(sql, "spark")
        return facets

    def _emit_app(self, state: RunState) -> None:
        run_facets = {
            "processing_engine": f.processing_engine_facet("spark", self._version),
            "spark_properties": f.facet(SPARK_PROPERTIES_SCHEMA, properties=self._properties),
        }
        job_facets = {"jobType": f.job_type_facet(integration="SPARK", job_type="APPLICATION")}
        self._emit(
            f.run_event(
                state, self.run_id, self.namespace, _slug(self._app), run_facets, job_facets
            )
        )

    def _emit(self, event: Any) -> None:
        try:
            self.client.emit(event)
        except Exception as exc:
            self._error(f"lineage event not sent: {exc}")

    def _error(self, message: str) -> None:
        log.error(message)
        self.errors.append(message)


class _Listener:
    """The py4j callback object Spark calls; forwards to the attached trackers, never raises."""

    def __init__(self) -> None:
        self.trackers: list[SparkTracker] = []

    def onSuccess(self, function: str, qe: Any, duration_ns: int) -> None:
        for tracker in list(self.trackers):
            started = time.perf_counter()
            try:
                tracker.on_success(qe, int(duration_ns))
            except Exception as exc:
                tracker._error(f"capture failed for {function}: {exc}")
            tracker.capture_seconds += time.perf_counter() - started

    def onFailure(self, function: str, qe: Any, exception: Any) -> None:
        for tracker in list(self.trackers):
            started = time.perf_counter()
            try:
                tracker.on_failure(function, qe, exception)
            except Exception as exc:
                tracker._error(f"capture failed for failed {function}: {exc}")
            tracker.capture_seconds += time.perf_counter() - started

    class Java:
        implements = ["org.apache.spark.sql.util.QueryExecutionListener"]


def track(
    spark: Any,
    client: OpenLineageClient | None = None,
    *,
    namespace: str | None = None,
    db_url: str | None = None,
) -> SparkTracker:
    """Capture lineage from every write ``spark`` makes, from now on.

    Args:
        spark: the SparkSession.
        client: where events go; default: ``OPENLINEAGE_URL`` / ``openlineage.yml`` if set,
            else the local Headwater store (``db_url``, ``HEADWATER_DB_URL`` or ./headwater.db).
        namespace: the job namespace (default: ``spark.openlineage.namespace`` or ``spark``).
        db_url: the Headwater store to write into, when no client is given.

    Returns:
        The started :class:`SparkTracker`; ``close()`` it (or use it as a context manager) to
        emit the application's COMPLETE.
    """
    if client is None:
        client = make_client(db_url=db_url, asynchronous=True)
    namespace = namespace or spark.conf.get("spark.openlineage.namespace", "spark")
    return SparkTracker(spark, client, namespace).start()


def table_dataset(spark: Any, identifier: str) -> tuple[str, str] | None:
    """OpenLineage (namespace, name) of catalog table ``identifier`` (by its location)."""
    catalog = spark._jsparkSession.sessionState().catalog()
    table = spark._jsparkSession.sessionState().sqlParser().parseTableIdentifier(identifier)
    try:
        return dataset_from_location(str(catalog.getTableMetadata(table).location().toString()))
    except Exception:
        return None


# -- py4j helpers --------------------------------------------------------------------------------
def _query_of(analyzed: Any) -> Any | None:
    for attribute in ("query", "sourceTable"):  # writes; MERGE INTO reads its source
        try:
            return getattr(analyzed, attribute)()
        except Exception:
            continue
    return analyzed.child() if analyzed.children().size() == 1 else None


def _output_ids(node: PlanNode) -> tuple[int, ...]:
    ids = []
    for expression in node.expressions("output"):
        if expression.expr_id is not None:
            ids.append(expression.expr_id)
    if ids:
        return tuple(ids)
    for key in ("projectList", "aggregateExpressions"):
        ids = [e.expr_id for e in node.expressions(key) if e.expr_id is not None]
        if ids:
            return tuple(ids)
    return _output_ids(node.children[0]) if node.children else ()


def identifier_text(identifier: Any) -> str:
    """``db.table`` of a Spark ``TableIdentifier`` (py4j object)."""
    database = identifier.database()
    table = str(identifier.table())
    return f"{database.get()}.{table}" if database.isDefined() else table


def _location_uri(value: str) -> str:
    if not value:
        return ""
    return value if ":" in value.split("/", 1)[0] else f"file:{value}"


def _schema_fields(schema_json: str) -> list[dict[str, str]]:
    def type_name(value: Any) -> str:
        return value if isinstance(value, str) else str(value.get("type", "struct"))

    return [
        {"name": str(c["name"]), "type": type_name(c["type"])}
        for c in json.loads(schema_json).get("fields", [])
    ]


def _sql_text(qe: Any) -> str | None:
    """The SQL text Spark's parser kept for the action (the command's origin, or its query's)."""
    candidates = [lambda: qe.logical(), lambda: qe.analyzed().query(), lambda: qe.logical().query()]
    for plan in candidates:
        try:
            text = plan().origin().sqlText()
            if text.isDefined():
                return str(text.get())
        except Exception:
            continue
    return None


def _mode_of(analyzed: Any) -> str:
    try:
        return str(analyzed.mode().toString())
    except Exception:
        return "Overwrite" if "Overwrite" in str(analyzed.getClass().getSimpleName()) else ""


def _write_metrics(qe: Any) -> dict[str, int]:
    """rows / bytes / files of the write, from the executed plan's DataWritingCommandExec."""
    names = {"numOutputRows": "rows", "numOutputBytes": "bytes", "numFiles": "files"}
    try:
        todo, seen = [qe.executedPlan()], 0
        while todo and seen < 50:
            node, seen = todo.pop(), seen + 1
            kind = str(node.getClass().getSimpleName())
            if kind in ("DataWritingCommandExec", "V2TableWriteExec") or kind.endswith(
                ("AppendDataExec", "OverwriteByExpressionExec", "AsSelectExec")
            ):
                metrics = node.metrics()
                return {
                    short: int(metrics.get(key).get().value())
                    for key, short in names.items()
                    if metrics.contains(key)
                }
            for attribute in ("finalPhysicalPlan", "plan", "commandPhysicalPlan"):
                try:
                    todo.append(getattr(node, attribute)())
                    break
                except Exception:
                    continue
            children = node.children()
            todo.extend(children.apply(i) for i in range(children.size()))
    except Exception as exc:
        log.debug("no write metrics: %s", exc)
    return {}


def _java_message(exception: Any) -> str:
    try:
        return f"{exception.getClass().getName()}: {exception.getMessage()}"
    except Exception:
        return str(exception)


def _java_stack(exception: Any) -> str | None:
    try:
        frames = exception.getStackTrace()
        lines = [_java_message(exception)]
        lines += [f"\tat {frames[i].toString()}" for i in range(min(len(frames), 40))]
        return "\n".join(lines)
    except Exception:
        return None


def _class_of(java_object: Any) -> str:
    try:
        return str(java_object.getClass().getSimpleName())
    except Exception:
        return ""


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text.strip().lower()).strip("_") or "spark"
