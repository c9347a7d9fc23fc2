"""An in-memory index of the current column graph, for walks over tens of thousands of fields.

A hub column's downstream walk in the database (:func:`headwater.store.traversal.column_downstream`)
spends most of its time in the recursive CTE's index probes: two per edge followed, for every
edge of every field reached. This index keeps, per input field, the column edges of the job
versions current now, and walks them in memory with the same rules and the same tie-breaks, so
that both give the same answer (a contract test compares them on generated graphs).

A walk (:class:`Walk`) gives the store its states directly, in the order the shared row path
(:func:`headwater.store.traversal.column_states`) puts the database walk's rows in, without
formatting rows for it; :meth:`Walk.rows` gives the rows, as the reference a test compares with.

The index is pure: it is loaded and refreshed from rows the store reads (:class:`SqlStore` keeps
it in step with the projection watermark, reloading only the jobs that events since the last
refresh named), and it knows no database. Walks as of a time stay in the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import orjson

from headwater.model.nodes import DatasetId, JobId
from headwater.model.transformations import is_direct
from headwater.store.base import Json, ReachedColumn

FieldKey = tuple[int, str]  # (dataset primary key, field)
_ID_BITS = 40  # edge ids stay below 2**40, as the database walk assumes


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
    none; only the rest are decoded and asked (the analysis benchmark's 69,300 edges: 5 ms,
    instead of 100 ms decoding each).
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

    def walk(self, start: FieldKey, depth: int) -> Walk | None:
        """Every state downstream of ``start`` within ``depth`` edges, as the database walk finds them.

        Breadth first over states (a field and whether every edge on the way was DIRECT); a state
        keeps its smallest depth and, at that depth, the edge from a DIRECT predecessor if there is
        one, else the edge with the smallest id; its jobs are those of every edge into it from a
        state followed. States are followed below ``depth`` only, and the start's field never
        again (edges back into it are kept, for their jobs). None for a field with no edges.
        """
        first = self._node.get(start)
        if first is None:
            return None
        seed = first * 2 + 1
        # per state: [depth, rank << 40 | edge id, predecessor, transformations, jobs]; one
        # record per state (one dict look-up per edge), jobs an int until a second job joins
        seen: dict[int, list[Any]] = {seed: [0, 0, -1, "[]", set()]}
        order: list[int] = []
        twins: list[int] = []  # states whose field's other state was reached before them
        datasets: set[int] = set()  # the keys the states name, for the store to name them
        jobs_named: set[int] = set()
        fields = self._fields
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
                rank = (1 - direct) << _ID_BITS  # a DIRECT predecessor first, then the edge id
                for edge_id, target, job, carries, text in out[node]:
                    reached = target * 2 + (direct & carries)
                    record = seen.get(reached)
                    if record is None:
                        seen[reached] = [below, rank | edge_id, state, text, job]
                        found.append(reached)
                        datasets.add(fields[target][0])
                        jobs_named.add(job)
                        if reached ^ 1 in seen:
                            twins.append(reached)
                        continue
                    jobs = record[4]
                    if jobs != job:
                        jobs_named.add(job)
                        if isinstance(jobs, int):
                            record[4] = {jobs, job}
                        else:
                            jobs.add(job)
                    if record[0] == below and rank | edge_id < record[1]:
                        record[1:4] = rank | edge_id, state, text
            order.extend(found)
            frontier = found
            level = below
        return Walk(first, seen, order, twins, fields, (datasets, jobs_named))


class Walk:
    """What :meth:`ColumnIndex.walk` found: the states reached, as the database walk's rows
    (:meth:`rows`, the reference) or as the store's states (:meth:`states`).

    Args:
        start: the start's node.
        seen: per state, ``[depth, rank << 40 | edge id, predecessor, transformations, jobs]``
            (jobs: one job's key, or a set of several).
        order: the states reached, breadth first (the start's excluded).
        twins: the states of ``order`` reached after their field's other state.
        fields: the ``(dataset key, field)`` of each node.
        keys: what :meth:`keys` returns.
    """

    def __init__(
        self,
        start: int,
        seen: dict[int, list[Any]],
        order: list[int],
        twins: list[int],
        fields: list[FieldKey],
        keys: tuple[set[int], set[int]],
    ) -> None:
        self._start = start
        self._seen = seen
        self._order = order
        self._twins = twins
        self._fields = fields
        self._keys = keys

    def keys(self) -> tuple[set[int], set[int]]:
        """The primary keys of the datasets of the states reached, and of the jobs they name."""
        return self._keys

    def rows(self) -> list[Reached]:
        """The states as the database walk's rows (:class:`Reached`), ordered by depth: the
        reference that :meth:`states` must agree with."""
        fields = self._fields
        seen = self._seen
        start = fields[self._start]
        rows: list[Reached] = []
        back = seen[self._start * 2 + 1][4]
        if back:  # edges back into the start: a row for their jobs only
            rows.append(Reached(*start, 1, 1, *start, 1, "[]", *_jobs(back)))
        for state in self._order:
            depth, key, pred, text, jobs = seen[state]
            ds, field = fields[state >> 1]
            pred_ds, pred_field = fields[pred >> 1]
            rows.append(
                Reached(
                    ds,
                    field,
                    state & 1,
                    depth,
                    pred_ds,
                    pred_field,
                    1 - (key >> _ID_BITS),
                    text,
                    *_jobs(jobs),
                )
            )
        return rows

    def states(
        self, dataset: DatasetId, datasets: Mapping[int, DatasetId], jobs: Mapping[int, JobId]
    ) -> list[ReachedColumn]:
        """The states of :meth:`LineageStore.column_downstream`, ``states[0]`` the start: what
        :func:`headwater.store.traversal.column_states` makes of :meth:`rows`, built straight
        from the walk (a hub's walk reaches tens of thousands of states).

        ``datasets`` and ``jobs`` name the primary keys of :meth:`keys` (``dataset`` is the
        start's).
        """
        fields = self._fields
        seen = self._seen
        seed = self._start * 2 + 1
        back = set(seen[seed][4])  # the jobs of edges back into the start's field
        # a field reached in both states: each lists the jobs of either
        merged: dict[int, int | set[int]] = {}
        for state in self._twins:
            merged[state] = merged[state ^ 1] = _keys(seen[state][4]) | _keys(seen[state ^ 1][4])
        other = seen.get(seed - 1)  # the start's other state: edges back into it
        if other is not None:
            back.update(_keys(other[4]))
        ordered = []
        for state in self._order:
            ds, field = fields[state >> 1]
            named = datasets[ds]
            record = seen[state]
            # the state is unique: what follows it in the tuple is never compared
            ordered.append(
                (record[0], named.namespace, named.name, field, state & 1, state, named, record)
            )
        ordered.sort()  # as column_states orders them: depth, dataset, field, direct
        one: dict[int, tuple[JobId, ...]] = {}  # one tuple per job: most states have one job
        start = ReachedColumn(dataset, fields[self._start][1], 0, True, None, (), ())
        if back:
            start = start._replace(jobs=tuple(sorted({jobs[k] for k in back})))
        result = [start]
        position = {seed: 0}
        decoded: dict[str, tuple[Json, ...]] = {}  # edges share few distinct transformation lists
        for depth, _, _, field, direct, state, named, (_, _, pred, text, keys) in ordered:
            if state == seed - 1:
                continue
            if merged:
                keys = merged.get(state, keys)
            steps = decoded.get(text)
            if steps is None:
                steps = decoded[text] = tuple(orjson.loads(text))
            if isinstance(keys, int):
                named_jobs = one.get(keys)
                if named_jobs is None:
                    named_jobs = one[keys] = (jobs[keys],)
            else:
                named_jobs = tuple(sorted({jobs[k] for k in keys}))
            position[state] = len(result)
            result.append(
                ReachedColumn(named, field, depth, direct == 1, position[pred], steps, named_jobs)
            )
        return result


def _keys(jobs: int | set[int]) -> set[int]:
    return {jobs} if isinstance(jobs, int) else set(jobs)


def _jobs(jobs: int | set[int]) -> tuple[int | None, str | None]:
    """``(job, None)`` for one job, ``(None, "id,id,...")`` for several."""
    if isinstance(jobs, int):
        return jobs, None
    if len(jobs) == 1:
        return next(iter(jobs)), None
    return None, ",".join(map(str, sorted(jobs)))
