"""The storage interface every backend implements.

A store ingests OpenLineage events transactionally and answers reads in the
shapes of Marquez 0.51's API (JSON-ready dicts), so the HTTP layer and the CLI
stay thin. SQLite and PostgreSQL share one SQLAlchemy implementation
(:class:`headwater.store.sql.SqlStore`); a new backend subclasses
:class:`LineageStore` and must pass the contract suite in ``tests/store``.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple

from headwater.model.events import Decoded
from headwater.model.nodes import DatasetId, JobId

Json = dict[str, Any]
Direction = Literal["upstream", "downstream", "both"]
Payload = bytes | str | Mapping[str, Any] | Decoded
SearchKind = Literal["DATASET", "JOB", "FIELD"]
SearchSort = Literal["NAME", "UPDATE_AT", "RELEVANCE"]
SearchMatch = Literal["name", "namespace", "column", "tag", "owner", "sql"]
#: What :meth:`LineageStore.search` can look in, in the order ``matched`` prefers.
SEARCH_MATCHES: tuple[SearchMatch, ...] = ("name", "namespace", "column", "tag", "owner", "sql")


class StoreError(Exception):
    """Base class of store errors."""


class NotFound(StoreError):
    """A namespace, dataset, job, run, version or node that the store does not hold."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    """The outcome of ingesting one event.

    Attributes:
        event_id: the stored event's id (the existing one for a duplicate).
        duplicate: the same event was stored before; nothing changed.
        warnings: lenient acceptances (see :mod:`headwater.model.events`).
    """

    event_id: int | None
    duplicate: bool
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class BatchItemResult:
    """One item of :meth:`LineageStore.ingest_many`: a result or the error that rejected it."""

    index: int
    result: IngestResult | None = None
    error: Exception | None = None


@dataclass(frozen=True, slots=True)
class ColumnEdge:
    """A column lineage edge of a job's current version: ``output <- input``.

    ``out_field`` is ``""`` for a dataset-level dependency (the facet's ``dataset`` list).
    """

    job: JobId
    out_dataset: DatasetId
    out_field: str
    in_dataset: DatasetId
    in_field: str
    transformations: tuple[Json, ...]


class ReachedColumn(NamedTuple):
    """One state of :meth:`LineageStore.column_downstream`'s walk: a field, how and how far.

    A named tuple rather than a frozen dataclass: a hub's walk builds tens of thousands, and a
    tuple is built several times faster.

    Attributes:
        dataset: the field's dataset.
        field: the field.
        depth: edges from the start (the smallest for this field and ``direct``).
        direct: every edge on the way has a DIRECT transformation (the value flows into it).
        via: index, in the same result, of the state this one was reached from (None: the start).
        transformations: the transformations of the edge from ``via``, in full.
        jobs: the jobs of every edge into this field from a field reached above the depth limit.
    """

    dataset: DatasetId
    field: str
    depth: int
    direct: bool
    via: int | None
    transformations: tuple[Json, ...]
    jobs: tuple[JobId, ...]


@dataclass(frozen=True, slots=True)
class ColumnReach:
    """What :meth:`LineageStore.column_downstream` returns.

    Attributes:
        states: the walk's tree; ``states[0]`` is the start.
        facets: for each dataset and job named in ``states``, the facets asked for that it has.
    """

    states: list[ReachedColumn]
    facets: dict[DatasetId | JobId, Json]


@dataclass(frozen=True, slots=True)
class TableEdges:
    """Table-level adjacency of one job's current version."""

    job: JobId
    inputs: tuple[DatasetId, ...]
    outputs: tuple[DatasetId, ...]


class LineageStore(abc.ABC):
    """Ingest OpenLineage events and read lineage back (Marquez 0.51 shapes)."""

    # -- lifecycle ---------------------------------------------------------------------------
    @abc.abstractmethod
    def upgrade(self) -> None:
        """Create or migrate the schema to the newest revision; never drops data."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    # -- writes ------------------------------------------------------------------------------
    #: Called after each append commits (a background projector sets it to wake up).
    on_append: Callable[[], None] | None = None

    @abc.abstractmethod
    def ingest(self, payload: Payload) -> IngestResult:
        """Validate and append one event to the log in one transaction; idempotent.

        The event is durable and in the hash chain when this returns; the lineage tables
        reflect it after :meth:`catch_up`, which every read runs first.

        Raises:
            headwater.model.EventParseError: not JSON (nothing stored).
            headwater.model.EventValidationError: not a valid event (nothing stored).
        """

    def ingest_nowait(self, payload: Payload) -> IngestResult | None:
        """Like :meth:`ingest` when the log can be appended to without waiting; else None.

        A caller that must not block (the server's event loop) tries this first and, on None,
        calls :meth:`ingest` where waiting is fine (a worker thread). This default never
        appends; a store whose appends wait on nothing but its own CPU (SQLite) overrides it.

        Raises:
            headwater.model.EventParseError: not JSON (nothing stored).
            headwater.model.EventValidationError: not a valid event (nothing stored).
        """
        return None

    async def ingest_async(self, payload: Payload) -> IngestResult:
        """:meth:`ingest` for a caller on an event loop (the server's requests), which it must
        not block. This default runs :meth:`ingest_nowait`, then :meth:`ingest` in a worker
        thread; a store with an asynchronous path of its own overrides it.

        Raises:
            headwater.model.EventParseError: not JSON (nothing stored).
            headwater.model.EventValidationError: not a valid event (nothing stored).
        """
        result = self.ingest_nowait(payload)
        if result is not None:
            return result
        return await asyncio.to_thread(self.ingest, payload)

    @abc.abstractmethod
    def ingest_many(self, payloads: Iterable[Payload]) -> list[BatchItemResult]:
        """Ingest each item in its own transaction; a bad item does not stop the others."""

    @abc.abstractmethod
    def catch_up(self, limit: int | None = None, batch: int = 500) -> int:
        """Project accepted events into the lineage tables, in log order; returns how many.

        Args:
            limit: stop after about this many events (None: until none is left).
            batch: events per transaction.
        """

    @abc.abstractmethod
    def pending(self) -> int:
        """How many accepted events the lineage tables do not reflect yet."""

    @abc.abstractmethod
    def prune_events(self, older_than: datetime) -> int:
        """Retention: drop the raw bodies of events older than ``older_than``; returns how many.

        Each pruned event keeps its row, content hash and chain hash, so the hash chain still
        verifies (links and order; the pruned bodies themselves can no longer be re-checked), and
        the lineage built from them stays. Pruned events leave ``list_events``/``export_events``.
        """

    @abc.abstractmethod
    def tag(
        self, tag: str, dataset: DatasetId, field: str | None = None, description: str | None = None
    ) -> Json:
        """Tag a dataset (or one of its fields); returns the dataset. Raises NotFound."""

    # -- entity reads ------------------------------------------------------------------------
    @abc.abstractmethod
    def list_namespaces(self, limit: int = 100, offset: int = 0) -> tuple[list[Json], int]:
        """Namespaces (Marquez ``Namespace``) and the total count."""

    @abc.abstractmethod
    def get_namespace(self, name: str) -> Json:
        """One namespace. Raises NotFound."""

    @abc.abstractmethod
    def list_datasets(
        self, namespace: str, limit: int = 100, offset: int = 0
    ) -> tuple[list[Json], int]:
        """Datasets of a namespace (Marquez ``Dataset``) and the total count. Raises NotFound."""

    @abc.abstractmethod
    def get_dataset(self, dataset: DatasetId) -> Json:
        """One dataset with its current schema, facets and tags. Raises NotFound."""

    @abc.abstractmethod
    def list_dataset_versions(
        self, dataset: DatasetId, limit: int = 100, offset: int = 0
    ) -> tuple[list[Json], int]:
        """Versions of a dataset, newest first (Marquez ``DatasetVersion``). Raises NotFound."""

    @abc.abstractmethod
    def get_dataset_version(self, dataset: DatasetId, version: str) -> Json:
        """One dataset version. Raises NotFound."""

    @abc.abstractmethod
    def list_jobs(
        self, namespace: str | None = None, limit: int = 100, offset: int = 0
    ) -> tuple[list[Json], int]:
        """Jobs (of one namespace, or all) with latest run, and the total count."""

    @abc.abstractmethod
    def get_job(self, job: JobId) -> Json:
        """One job (Marquez ``Job``) with its current inputs/outputs and latest run. Raises NotFound."""

    @abc.abstractmethod
    def list_job_versions(
        self, job: JobId, limit: int = 100, offset: int = 0
    ) -> tuple[list[Json], int]:
        """Versions of a job, newest first (Marquez ``JobVersion``). Raises NotFound."""

    @abc.abstractmethod
    def get_job_version(self, job: JobId, version: str) -> Json:
        """One job version. Raises NotFound."""

    @abc.abstractmethod
    def list_runs(self, job: JobId, limit: int = 100, offset: int = 0) -> tuple[list[Json], int]:
        """Runs of a job, newest first (Marquez ``Run``). Raises NotFound."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Json:
        """One run with facets merged in event-time order and its dataset versions. Raises NotFound."""

    @abc.abstractmethod
    def get_run_facets(self, run_id: str, kind: Literal["run", "job"] = "run") -> Json:
        """``{"runId", "facets"}``: the run's (or its job's) facets merged in event-time order."""

    @abc.abstractmethod
    def list_events(
        self,
        before: datetime | None = None,
        after: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
        descending: bool = True,
    ) -> tuple[list[Json], int]:
        """Stored events (decoded) in an event-time window, and the true total count of the window."""

    @abc.abstractmethod
    def export_events(self) -> Iterator[bytes]:
        """Every stored event's bytes exactly as received, in ingestion order."""

    @abc.abstractmethod
    def search(
        self,
        q: str,
        kind: SearchKind | None = None,
        sort: SearchSort = "NAME",
        limit: int = 10,
        namespace: str | None = None,
        match: Sequence[SearchMatch] | None = None,
    ) -> Json:
        """Find datasets, jobs and columns whose name or metadata contains ``q`` (case-insensitive).

        Without ``match``, Marquez's search: datasets and jobs by name, each result
        ``{"type","name","updatedAt","namespace","nodeId"}``. With ``match`` (see :data:`SEARCH_MATCHES`),
        also what else to look in; each result then adds ``matched`` (the first of ``match``'s kinds
        that matched, in :data:`SEARCH_MATCHES` order) and ``detail`` (the column type, the tag, the
        owner or the line of SQL that matched), and ``FIELD`` results add ``dataset`` and ``field``.
        An entity appears once, however many ways it matched.

        Args:
            q: the text to find; ``%`` and ``_`` are matched literally.
            kind: only results of this type (``DATASET``, ``JOB`` or ``FIELD``).
            sort: ``NAME`` (name, then field and namespace), ``UPDATE_AT`` (newest first) or
                ``RELEVANCE`` (by what matched, then name).
            limit: at most this many results; ``totalCount`` counts all.
            namespace: only this namespace.
            match: where to look: ``name``, ``namespace``, ``column`` (field names), ``tag`` (tags of
                datasets and fields, and ``tags`` facet keys), ``owner`` (``ownership`` facets),
                ``sql`` (each job's current SQL).

        Returns:
            ``{"totalCount", "results"}``.
        """

    @abc.abstractmethod
    def child_runs(self, run_id: str, limit: int = 100, offset: int = 0) -> tuple[list[Json], int]:
        """Runs whose ``parent`` run facet names ``run_id``, oldest first, and their total count.

        Each is a Marquez ``Run`` summary (no facets or dataset versions; ``get_run`` has those).
        Raises NotFound when the store holds no run ``run_id`` and no run names it as parent.
        """

    @abc.abstractmethod
    def quality_history(
        self, dataset: DatasetId, limit: int = 100, offset: int = 0
    ) -> tuple[list[Json], int]:
        """Every data-quality assertion result on a dataset, newest first, and the total count.

        One result per check run and assertion: a run that reports an assertion on several events
        (START and COMPLETE) counts once, with its latest report.

        Each item: ``{"assertion", "column", "success", "severity", "eventTime", "runId", "job"}``
        (``job`` is ``{"namespace", "name"}`` of the run that checked, or None). Raises NotFound.
        """

    @abc.abstractmethod
    def list_tags(self) -> list[Json]:
        """All tags ``{"name","description"}``."""

    @abc.abstractmethod
    def quality_results(self, datasets: Sequence[DatasetId]) -> dict[DatasetId, list[Json]]:
        """Latest result of each data-quality assertion per dataset (from ``dataQualityAssertions`` facets).

        Each item: ``{"assertion", "column", "success", "severity", "eventTime", "runId"}``.
        """

    # -- graph primitives (used by headwater.graph) ------------------------------------------
    @abc.abstractmethod
    def node_exists(self, node: DatasetId | JobId) -> bool:
        """Whether the store holds this dataset or job."""

    @abc.abstractmethod
    def jobs_touching(
        self,
        datasets: Sequence[DatasetId],
        direction: Literal["in", "out"],
        as_of: datetime | None = None,
    ) -> list[TableEdges]:
        """Jobs whose current version (or version as of ``as_of``) reads (``in``) or writes (``out``) any of ``datasets``.

        A job's version as of a time is the one of its latest run started at or before that time.
        """

    @abc.abstractmethod
    def job_edges(self, jobs: Sequence[JobId], as_of: datetime | None = None) -> list[TableEdges]:
        """The inputs and outputs of each job's current version (or its version as of ``as_of``)."""

    @abc.abstractmethod
    def jobs_reached(
        self,
        start: DatasetId | JobId,
        depth: int,
        direction: Literal["upstream", "downstream"],
        as_of: datetime | None = None,
    ) -> list[TableEdges]:
        """Every job within ``depth`` jobs of ``start`` in one direction, with its inputs and outputs.

        One walk in the database over each job's current version (or its version as of
        ``as_of``). Downstream: the jobs reading the start dataset (or the start job's outputs),
        then the jobs reading what those write, up to ``depth`` jobs away; upstream: the jobs
        writing them, and so on. A job start is part of the answer. Each job's ``inputs`` and
        ``outputs`` are all of its version's, sorted, including datasets the walk did not reach
        (a downstream job's other inputs). Cycle-safe; an unknown start gives ``[]``.
        """

    @abc.abstractmethod
    def column_edges(
        self,
        fields: Sequence[tuple[DatasetId, str]],
        direction: Literal["upstream", "downstream"],
        as_of: datetime | None = None,
    ) -> list[ColumnEdge]:
        """Column edges of current (or as-of) job versions into (upstream) or out of (downstream) the fields."""

    @abc.abstractmethod
    def column_downstream(
        self,
        start: tuple[DatasetId, str],
        depth: int,
        as_of: datetime | None = None,
        facets: Sequence[str] = (),
    ) -> ColumnReach:
        """Every field downstream of ``start`` within ``depth`` edges, as a breadth-first tree.

        One walk in the database (not one query per level) over the column edges of each job's
        current version, or its version as of ``as_of``. A field may appear twice: reached along
        DIRECT edges only (``direct``), and along a path with an INDIRECT step, each at its
        smallest depth. A state's ``via`` is a state one level up: DIRECT from DIRECT along an
        edge with a DIRECT transformation; INDIRECT from an INDIRECT state, or from a DIRECT one
        along an edge without; a DIRECT predecessor is preferred, then the first recorded edge.
        ``states[0]`` is the start (depth 0, ``via`` None, with the jobs of edges back into it
        through a cycle); it is never re-entered. The rest are ordered by depth, so ``via``
        always points back, then by dataset (namespace, name), field, INDIRECT before DIRECT:
        the order a report lists them in. Cycle-safe. An unknown dataset gives no states at all.

        Args:
            start: ``(dataset, field)``.
            depth: how many edges to follow.
            as_of: walk the graph as the job versions current at that time defined it.
            facets: facet names (e.g. ``["ownership"]``) to return for the datasets and jobs
                reached, as :meth:`facets_of` would with ``keys``, in the same read.
        """

    @abc.abstractmethod
    def facets_of(
        self, nodes: Sequence[DatasetId | JobId], keys: Sequence[str] | None = None
    ) -> dict[DatasetId | JobId, Json]:
        """The current merged facets of many datasets and jobs at once (cheaper than full entities).

        With ``keys``, only those facets (e.g. ``["ownership"]``), extracted by the database.
        """

    @abc.abstractmethod
    def lineage_at(
        self, as_of: datetime | None = None
    ) -> tuple[list[TableEdges], list[ColumnEdge], dict[JobId, str | None]]:
        """The whole graph as of a time (None: now): every job's edges, its column edges, and its SQL."""

    @abc.abstractmethod
    def schemas_at(self, as_of: datetime | None = None) -> dict[DatasetId, list[str]]:
        """Column names of every dataset's version current at ``as_of`` (None: now)."""

    @abc.abstractmethod
    def dataset_fields(self, datasets: Sequence[DatasetId]) -> dict[DatasetId, list[Json]]:
        """Current schema fields of datasets (``[{"name","type","description"}]``)."""

    @abc.abstractmethod
    def datasets_by_id(self, datasets: Sequence[DatasetId]) -> dict[DatasetId, Json]:
        """Marquez ``Dataset`` dicts for many datasets at once (missing ones left out).

        Each dict is the caller's own, but the values in it may be shared with the store's node
        cache (:mod:`headwater.store.node_cache`): change a key, never a nested value.
        """

    @abc.abstractmethod
    def jobs_by_id(self, jobs: Sequence[JobId]) -> dict[JobId, Json]:
        """Marquez ``Job`` dicts for many jobs at once (missing ones left out).

        For graph payloads: each ``latestRun`` is a summary (state, times, version) without its
        facets and dataset versions, which ``get_job``/``get_run`` give in full. Shared like
        :meth:`datasets_by_id`'s: change a key, never a nested value.
        """

    @abc.abstractmethod
    def run_inputs_upstream(self, run_id: str) -> list[Json]:
        """For :func:`headwater.graph.upstream_runs`: the run's input dataset versions with the runs that produced them.

        Each item: ``{"dataset": DatasetId, "version": str | None, "producer_run": str | None}``; where
        the producer sent no version, the version current when the consuming run started.
        """
