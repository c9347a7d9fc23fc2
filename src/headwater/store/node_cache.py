"""A cache of lineage nodes' Marquez JSON (datasets, and jobs with their latest run), kept current
by the projection watermark.

A hub's full downstream names tens of thousands of datasets and jobs; building their Marquez JSON
(reading the rows, decoding JSON columns, shaping dicts) took about three quarters of the
request, and the objects built made the garbage collector's next pass scan them all. Most of those
nodes do not change between two reads: the cache keeps each node's JSON until an event that can
change it is projected.

The cache is pure: it knows no database. :class:`~headwater.store.sql.SqlStore` refreshes it from
the log before every read that uses it (:meth:`NodeCache.refresh`): the events projected since
the cache's watermark name the only datasets, jobs and runs whose JSON they can change
(:func:`touched_by`), and those are dropped; a long way behind (or a watermark that went back),
everything is. Tags are written outside the log: the cache also keeps a fingerprint of the tag
table (row count and newest time; tags are only ever added) and drops every dataset when it moves.

Reads that miss store what they read only if no refresh happened in between
(:attr:`NodeCache.generation`), so that JSON read before an event can never be kept after it.
The cached dicts are shared by every read that hits them: callers treat them as read-only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, NamedTuple, TypeVar

from headwater.model.events import ValidatedEvent
from headwater.model.nodes import DatasetId, JobId

Json = dict[str, Any]
Key = TypeVar("Key", DatasetId, JobId)


class LogPosition(NamedTuple):
    """What the cached JSON reflects: the projection watermark and the tag table's fingerprint."""

    watermark: int
    tags: tuple[int, Any]  # (rows, newest tagged_at): tags are only ever added


def went_back(old: LogPosition, new: LogPosition) -> bool:
    """Whether ``new`` is behind ``old``: read before it (a concurrent read), or from a log that
    is not the same (a database replaced or restored)."""
    return new.watermark < old.watermark or new.tags[0] < old.tags[0]


class Touched(NamedTuple):
    """The nodes whose JSON projecting some events can change."""

    datasets: set[DatasetId]
    jobs: set[JobId]
    runs: set[str]  # a job whose latest run is one of these shows it


def touched_by(events: Iterable[ValidatedEvent]) -> Touched:
    """The datasets, jobs and runs that projecting ``events`` can change.

    A run event changes its job (facets, current version, latest run), its run and the datasets
    it reads and writes (facets, schema, current version); a job event its job (and names
    datasets); a dataset event its dataset.
    """
    touched = Touched(set(), set(), set())
    for event in events:
        if event.job is not None:
            touched.jobs.add(event.job)
        if event.run_id is not None:
            touched.runs.add(event.run_id)
        for ds in (*event.inputs, *event.outputs):
            touched.datasets.add(DatasetId(ds["namespace"], ds["name"]))
    return touched


class NodeCache:
    """Marquez JSON of datasets and jobs by id, as of :attr:`position`.

    Callers hold :attr:`lock` around every method but construction.

    Args:
        max_nodes: the most nodes (datasets and jobs together) kept; past it the nodes cached
            first are dropped first.
    """

    def __init__(self, max_nodes: int) -> None:
        self.max_nodes = max_nodes
        self.lock = threading.Lock()
        self.position: LogPosition | None = None
        self.generation = 0  # moves on every refresh to another position
        self._nodes: dict[DatasetId | JobId, Json] = {}
        self._latest_run: dict[JobId, str] = {}  # the run each cached job's JSON shows
        self._jobs_of_run: dict[str, set[JobId]] = {}

    def __len__(self) -> int:
        return len(self._nodes)

    def clear(self) -> None:
        """Drop every node."""
        self._nodes.clear()
        self._latest_run.clear()
        self._jobs_of_run.clear()

    def refresh(self, position: LogPosition, touched: Touched | None) -> None:
        """Move to ``position``, dropping the nodes ``touched`` by the events projected since
        :attr:`position` (None: drop everything); a new tag fingerprint drops every dataset."""
        old = self.position
        if old == position:
            return
        self.generation += 1
        self.position = position
        if old is None or touched is None or went_back(old, position):
            self.clear()
            return
        if old.tags != position.tags:
            for node in [n for n in self._nodes if isinstance(n, DatasetId)]:
                del self._nodes[node]
        for dataset in touched.datasets:
            self._nodes.pop(dataset, None)
        jobs = set(touched.jobs)
        for run_id in touched.runs:
            jobs.update(self._jobs_of_run.get(run_id, ()))
        for job in jobs:
            self._drop(job)

    def _drop(self, node: DatasetId | JobId) -> None:
        self._nodes.pop(node, None)
        if not isinstance(node, JobId):
            return
        run_id = self._latest_run.pop(node, None)
        if run_id is None:
            return
        shown = self._jobs_of_run[run_id]
        shown.discard(node)
        if not shown:
            del self._jobs_of_run[run_id]

    def lookup(self, keys: Iterable[Key]) -> tuple[dict[Key, Json], list[Key]]:
        """The cached JSON of those of ``keys`` that are cached, and the others."""
        found: dict[Key, Json] = {}
        missing: list[Key] = []
        nodes = self._nodes
        for key in keys:
            data = nodes.get(key)
            if data is None:
                missing.append(key)
            else:
                found[key] = data
        return found, missing

    def add(self, generation: int, found: dict[Key, Json]) -> None:
        """Keep ``found`` (read under ``generation``) unless a refresh happened since."""
        if generation != self.generation:
            return
        for node, data in found.items():
            self._drop(node)
            self._nodes[node] = data
            if isinstance(node, JobId):
                run_id = (data.get("latestRun") or {}).get("id")
                if run_id is not None:
                    self._latest_run[node] = run_id
                    self._jobs_of_run.setdefault(run_id, set()).add(node)
        while len(self._nodes) > self.max_nodes:
            self._drop(next(iter(self._nodes)))
