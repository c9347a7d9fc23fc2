"""An in-memory index of the current column graph, for walks over tens of thousands of fields.

A hub column's downstream walk in the database (:func:`headwater.store.traversal.column_downstream`)
spends most of its time in the recursive CTE's index probes: two per edge followed, for every
edge of every field reached. This index keeps, per input field, the column edges of the job
versions current now, and walks them in memory with the same rules and the same tie-breaks, so
that both give the same answer (a contract test compares them on generated graphs).

The index is pure: it is loaded and refreshed from rows the store reads (:class:`SqlStore` keeps
it in step with the projection watermark, reloading only the jobs that events since the last
refresh named), and it knows no database. Walks as of a time stay in the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, NamedTuple

import orjson

from headwater.model.transformations import is_direct

FieldKey = tuple[int, str]  # (dataset primary key, field)


class IndexedEdge(NamedTuple):
    """A column edge of a current job version, as the index keeps it."""

    id: int
    target: int  # the output field's node number
    job: int
    direct: int  # 1: one of its transformations is DIRECT
    transformations: str  # JSON text, shared among equal edges


class Reached(NamedTuple):
    """A state of the walk (a field, and whether the value flows into it), as a result row.

    The same values, in the same order, as the first columns of the database walk's rows
    (without names and facets): see :func:`headwater.store.traversal.column_downstream`.
    """

    dataset: int
    field: str
    direct: int
    depth: int
    pred_dataset: int
    pred_field: str
    pred_direct: int
    transformations: str
    job: int | None  # when one job leads into the state
    jobs: str | None  # when several do: their ids joined by commas


EdgeRow = tuple[int, int, str, int, str, int, str | None, str]


def has_direct(type_: str | None, transformations: str) -> bool:
    """:func:`headwater.model.is_direct` of an edge as the store holds it: ``type_`` is its
    first transformation's type, ``transformations`` the list as JSON text.

    The same answer without decoding most edges (a load reads every current edge): a first
    transformation that is DIRECT answers yes, and JSON text without the string ``"DIRECT"`` has
    none; only the rest are decoded and asked.
    """
    if type_ == "DIRECT":
        return True
    if '"DIRECT"' not in transformations:
        return False
    return is_direct(orjson.loads(transformations))


class ColumnIndex:
    """Column edges of the current job versions, by input field.

    Fields are numbered (walks hash integers, not tuples of a key and a name); a walk's state is
    ``node * 2 + direct``.

    Args:
        max_edges: the most edges the index holds; a graph with more is walked in the database
            (:attr:`usable` turns false), so that memory stays bounded.
    """

    def __init__(self, max_edges: int) -> None:
        self.max_edges = max_edges
        self.lock = threading.Lock()  # one refresh or walk at a time
        self.mark: int | None = None  # the projection watermark the index reflects
        self.usable = True
        self._reset()

    def _reset(self) -> None:
        self._node: dict[FieldKey, int] = {}
        self._fields: list[FieldKey] = []
        self._out: list[list[IndexedEdge]] = []
        self._jobs: dict[int, set[int]] = {}  # the input nodes of each job's edges
        self._texts: dict[str, str] = {}  # one string per distinct transformations text
        self._size = 0
        # the node of each primary key, per table: its name is fixed for a row's life, kept across
        # refreshes, filled by the store as walks reach new nodes
        self.names: dict[str, dict[int, Any]] = {}  # DatasetId or JobId
        # the facets asked for, by (table, keys) and primary key (None: has none of them), filled
        # by the store as walks reach nodes; dropped whenever the index moves to another watermark
        self.facets: dict[tuple[str, tuple[str, ...]], dict[int, dict[str, Any] | None]] = {}

    def load(self, rows: Iterable[EdgeRow], mark: int) -> None:
        """Replace the whole index with ``rows`` (see :meth:`add`), reflecting watermark ``mark``."""
        self._reset()
        self.usable = True
        self.add(rows)
        self.mark = mark

    def replace_jobs(self, jobs: Iterable[int], rows: Iterable[EdgeRow], mark: int) -> None:
        """Drop the edges of ``jobs`` and add ``rows`` (their current edges) instead."""
        for job in jobs:
            for node in self._jobs.pop(job, ()):
                kept = [e for e in self._out[node] if e.job != job]
                self._size -= len(self._out[node]) - len(kept)
                self._out[node] = kept
        self.facets = {}
        self.add(rows)
        self.mark = mark

    def _number(self, key: FieldKey) -> int:
        node = self._node.get(key)
        if node is None:
            node = self._node[key] = len(self._fields)
            self._fields.append(key)
            self._out.append([])
        return node

    def add(self, rows: Iterable[EdgeRow]) -> None:
        """Add edges: rows of ``(id, in_dataset, in_field, out_dataset, out_field, job, type,
        transformations)``; past ``max_edges`` the index empties and ``usable`` turns false."""
        touched: set[int] = set()
        for edge_id, in_ds, in_field, out_ds, out_field, job, type_, text in rows:
            if self._size >= self.max_edges:
                self._reset()
                self.usable = False
                return
            text = self._texts.setdefault(text, text)
            source = self._number((in_ds, in_field))
            target = self._number((out_ds, out_field))
            direct = 1 if has_direct(type_, text) else 0
            self._out[source].append(IndexedEdge(edge_id, target, job, direct, text))
            self._jobs.setdefault(job, set()).add(source)
            touched.add(source)
            self._size += 1
        for node in touched:  # walks break ties by edge id: keep each list in that order
            self._out[node].sort()

    def __len__(self) -> int:
        return self._size

    def walk(self, start: FieldKey, depth: int) -> list[Reached]:
        """Every state downstream of ``start`` within ``depth`` edges, as the database walk finds them.

        Breadth first over states (a field and whether every edge on the way was DIRECT); a state
        keeps its smallest depth and, at that depth, the edge from a DIRECT predecessor if there is
        one, else the edge with the smallest id; its jobs are those of every edge into it from a
        state followed. States are followed below ``depth`` only, and the start's field never
        again (edges back into it are kept, for their jobs). Rows come ordered by depth.
        """
        first = self._node.get(start)
        if first is None:
            return []
        seed = first * 2 + 1
        depth_of = {seed: 0}
        best: dict[int, tuple[int, int, int, IndexedEdge]] = {}  # state: rank, edge id, pred, edge
        jobs: dict[int, int | set[int]] = {}
        order: list[int] = []
        frontier = [seed]
        level = 0
        out = self._out
        while frontier and level < depth:
            found: list[int] = []
            below = level + 1
            for state in frontier:
                node = state >> 1
                if level and node == first:
                    continue  # the start's field is followed from the start only
                direct = state & 1
                rank = 1 - direct
                for edge in out[node]:
                    edge_id, target, job_id, carries, _ = edge  # unpacked: faster than attributes
                    reached = target * 2 + (direct & carries)
                    job = jobs.get(reached)  # one job (an int) until a second one joins
                    if job is None:
                        jobs[reached] = job_id
                    elif job != job_id:
                        if isinstance(job, int):
                            jobs[reached] = {job, job_id}
                        else:
                            job.add(job_id)
                    known = depth_of.get(reached)
                    if known is None:
                        depth_of[reached] = below
                        best[reached] = (rank, edge_id, state, edge)
                        found.append(reached)
                    elif known == below:
                        chosen = best[reached]
                        if rank < chosen[0] or (rank == chosen[0] and edge_id < chosen[1]):
                            best[reached] = (rank, edge_id, state, edge)
            order.extend(found)
            frontier = found
            level = below
        fields = self._fields
        rows: list[Reached] = []
        if seed in jobs:  # edges back into the start: a row for their jobs only
            rows.append(Reached(*start, 1, 1, *start, 1, "[]", *_jobs(jobs[seed])))
        for state in order:
            rank, _, pred, edge = best[state]
            rows.append(
                Reached(
                    *fields[state >> 1],
                    state & 1,
                    depth_of[state],
                    *fields[pred >> 1],
                    1 - rank,
                    edge.transformations,
                    *_jobs(jobs[state]),
                )
            )
        return rows


def _jobs(jobs: int | set[int]) -> tuple[int | None, str | None]:
    """``(job, None)`` for one job, ``(None, "id,id,...")`` for several."""
    if isinstance(jobs, int):
        return jobs, None
    return None, ",".join(map(str, sorted(jobs)))
