"""An in-memory index of the current column graph, for walks over tens of thousands of fields.

A hub column's downstream walk in the database (:func:`headwater.store.traversal.column_downstream`)
spends most of its time in the recursive CTE's index probes: two per edge followed, for every
edge of every field reached. This index keeps, per input field, the column edges of the job
versions current now, and walks them in memory with the same rules and the same tie-breaks, so
that both give the same answer (a contract test compares them on generated graphs).

The edges are held column-wise in numpy arrays, sorted by input field and edge id (compressed
sparse rows), and a walk runs a level at a time over arrays: a hub column reaches ten thousand
fields through tens of thousands of edges, and a Python loop per edge was a third of an impact
report's time. A walk (:class:`Walk`) gives the store its states directly, in the order the
shared row path (:func:`headwater.store.traversal.column_states`) puts the database walk's rows
in, building the Python objects a column at a time; :meth:`Walk.rows` gives the rows, as the
reference a test compares with.

The index is pure: it is loaded and refreshed from rows the store reads (:class:`SqlStore` keeps
it in step with the projection watermark, reloading only the jobs that events since the last
refresh named), and it knows no database. Walks as of a time stay in the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from itertools import repeat
from typing import Any, NamedTuple

import numpy as np
import orjson
from numpy.typing import NDArray

from headwater.model.nodes import DatasetId, JobId
from headwater.model.transformations import is_direct
from headwater.store.base import Json, ReachedColumn

FieldKey = tuple[int, str]  # (dataset primary key, field)
_ID_BITS = 40  # edge ids stay below 2**40, as the database walk assumes


Ints = NDArray[np.int64]
# the edge columns: input node, edge id, output node, job, direct (1: one of its transformations
# is DIRECT), number of its transformations text
_SOURCE, _ID, _TARGET, _JOB, _DIRECT, _TEXT = range(6)


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

    Fields are numbered (nodes); a walk's state is ``node * 2 + direct``. Edges are added to a
    pending list and joined to the sorted arrays when a walk next needs them; a job's edges are
    replaced by filtering the arrays.

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
        self._field_names: list[str] = []  # per node
        self._text_number: dict[str, int] = {}  # one number per distinct transformations text
        self._texts: list[str] = []
        self._edges: list[Ints] = [np.empty(0, np.int64) for _ in range(6)]
        self._pending: list[tuple[int, int, int, int, int, int]] = []
        self._sorted = True  # the arrays are sorted by (input node, edge id), pending is empty
        self._offsets: Ints = np.zeros(1, np.int64)  # per node, where its edges start
        self._node_dataset: Ints = np.empty(0, np.int64)
        self._size = 0
        self._ranks: Ints | None = None  # per state, its place in a report: see ranks()
        # the node of each primary key, per table: its name is fixed for a row's life, kept across
        # refreshes, filled by the store as walks reach new nodes
        self.names: dict[str, dict[int, Any]] = {}  # DatasetId or JobId
        # the facets asked for, by (table, keys): the primary keys looked up, and the facets of
        # those that have any, filled by the store as walks reach nodes; dropped whenever the
        # index moves to another watermark
        self.facets: dict[tuple[str, tuple[str, ...]], tuple[set[int], dict[int, Json]]] = {}

    def load(self, rows: Iterable[EdgeRow], mark: int) -> None:
        """Replace the whole index with ``rows`` (see :meth:`add`), reflecting watermark ``mark``."""
        self._reset()
        self.usable = True
        self.add(rows)
        self.mark = mark

    def replace_jobs(
        self,
        jobs: Iterable[int],
        rows: Iterable[EdgeRow],
        mark: int,
        touched: tuple[set[int], set[int]] | None = None,
    ) -> None:
        """Drop the edges of ``jobs`` and add ``rows`` (their current edges) instead.

        ``touched``: the primary keys of the datasets and jobs whose facets the events since the
        last refresh can change; the cached facets of only those are dropped (None: all).
        """
        self._forget_facets(touched)
        dropped = np.fromiter(jobs, np.int64)
        if dropped.size and self._size:
            self._join_pending()
            keep = ~np.isin(self._edges[_JOB], dropped)
            if not keep.all():
                self._edges = [column[keep] for column in self._edges]
                self._size = int(keep.sum())
                self._sorted = False  # the offsets move
        self.add(rows)
        self.mark = mark

    def _forget_facets(self, touched: tuple[set[int], set[int]] | None) -> None:
        if touched is None:
            self.facets = {}
            return
        for (table, _), (checked, facets) in self.facets.items():
            stale = touched[0] if table == "datasets" else touched[1]
            checked.difference_update(stale)
            for pk in stale.intersection(facets):
                del facets[pk]

    def _number(self, key: FieldKey) -> int:
        node = self._node.get(key)
        if node is None:
            node = self._node[key] = len(self._fields)
            self._fields.append(key)
            self._field_names.append(key[1])
            self._ranks = None
        return node

    def add(self, rows: Iterable[EdgeRow]) -> None:
        """Add edges: rows of ``(id, in_dataset, in_field, out_dataset, out_field, job, type,
        transformations)``; past ``max_edges`` the index empties and ``usable`` turns false."""
        pending = self._pending
        numbers = self._text_number
        for edge_id, in_ds, in_field, out_ds, out_field, job, type_, text in rows:
            if self._size >= self.max_edges:
                self._reset()
                self.usable = False
                return
            number = numbers.get(text)
            if number is None:
                number = numbers[text] = len(self._texts)
                self._texts.append(text)
            direct = 1 if has_direct(type_, text) else 0
            source = self._number((in_ds, in_field))
            target = self._number((out_ds, out_field))
            pending.append((source, edge_id, target, job, direct, number))
            self._size += 1
            self._sorted = False

    def __len__(self) -> int:
        return self._size

    def _join_pending(self) -> None:
        if self._pending:
            added = np.array(self._pending, np.int64).reshape(-1, 6).T
            self._edges = [np.concatenate(pair) for pair in zip(self._edges, added, strict=True)]
            self._pending = []

    def _arrays(self) -> list[Ints]:
        """The edge columns, sorted by input node then edge id (walks break ties by edge id)."""
        if not self._sorted:
            self._join_pending()
            # one integer key per edge; a stable sort runs in about linear time over the sorted
            # edges kept and the few appended since (a refresh after an event), which lexsort did not
            key = (self._edges[_SOURCE] << _ID_BITS) | self._edges[_ID]
            order = np.argsort(key, kind="stable")
            self._edges = [column[order] for column in self._edges]
            nodes = np.arange(len(self._fields) + 1, dtype=np.int64)
            self._offsets = np.searchsorted(self._edges[_SOURCE], nodes).astype(np.int64)
            known = self._node_dataset.size
            if known < len(self._fields):  # nodes only ever get added (a reset starts over)
                added = np.fromiter((ds for ds, _ in self._fields[known:]), np.int64)
                self._node_dataset = np.concatenate([self._node_dataset, added])
            self._sorted = True
        return self._edges

    def ranked(self) -> bool:
        """Whether :meth:`ranks` is built (else it needs every dataset of :meth:`dataset_keys` named)."""
        return self._ranks is not None

    def dataset_keys(self) -> set[int]:
        """The primary keys of every dataset that a field of the index belongs to."""
        return {ds for ds, _ in self._fields}

    def ranks(self, datasets: Mapping[int, DatasetId]) -> Ints:
        """Per state (``node * 2 + direct``), its place in the order reports list states in:
        dataset (namespace, name), field, INDIRECT before DIRECT.

        Built once for the nodes the index holds (``datasets`` names every one of
        :meth:`dataset_keys`), kept until a node is added: a walk then sorts its states by
        integers, not by names.
        """
        ranks = self._ranks
        if ranks is None:
            fields = self._fields
            named = [(datasets[ds], field) for ds, field in fields]
            by_name = np.fromiter(
                sorted(
                    range(len(fields)),
                    key=lambda n: (named[n][0].namespace, named[n][0].name, named[n][1]),
                ),
                np.int64,
                len(fields),
            )
            places = np.arange(len(fields), dtype=np.int64) * 2
            ranks = np.empty(2 * len(fields), np.int64)
            ranks[by_name * 2] = places
            ranks[by_name * 2 + 1] = places + 1
            self._ranks = ranks
        return ranks

    def walk(self, start: FieldKey, depth: int) -> Walk | None:
        """Every state downstream of ``start`` within ``depth`` edges, as the database walk finds them.

        Breadth first over states (a field and whether every edge on the way was DIRECT); a state
        keeps its smallest depth and, at that depth, the edge from a DIRECT predecessor if there is
        one, else the edge with the smallest id; its jobs are those of every edge into it from a
        state followed. States are followed below ``depth`` only, and the start's field never
        again (edges back into it are kept, for their jobs). None for a field with no edges.

        A level at a time: the edges out of the frontier's states are gathered from the arrays;
        those that reach a state not seen before are grouped by it, and the smallest key
        (``(1 - predecessor's direct) << 40 | edge id``) of each group gives its predecessor.
        """
        first = self._node.get(start)
        if first is None:
            return None
        _, ids, targets, jobs, carries, _ = self._arrays()
        offsets = self._offsets
        seed = first * 2 + 1
        states = 2 * len(self._fields)
        depth_of = np.full(states, -1, np.int64)
        depth_of[seed] = 0
        pred = np.full(states, -1, np.int64)
        edge_at = np.full(states, -1, np.int64)  # the edge each state was reached by
        levels: list[Ints] = []
        followed: list[tuple[Ints, Ints]] = []  # (state reached, job) of every edge followed
        frontier = np.array([seed], np.int64)
        level = 0
        while frontier.size and level < depth:
            if level:  # the start's field is followed from the start only
                frontier = frontier[frontier >> 1 != first]
            starts = offsets[frontier >> 1]
            counts = offsets[(frontier >> 1) + 1] - starts
            total = int(counts.sum())
            if not total:
                break
            # every edge out of every frontier state: its position, and the state it leaves
            which = np.repeat(np.arange(frontier.size), counts)
            at = np.arange(total) + np.repeat(starts - (np.cumsum(counts) - counts), counts)
            source = frontier[which]
            direct = source & 1
            reached = targets[at] * 2 + (direct & carries[at])
            followed.append((reached, jobs[at]))
            new = depth_of[reached] < 0
            reached, source, at, direct = reached[new], source[new], at[new], direct[new]
            key = ((1 - direct) << _ID_BITS) | ids[at]
            order = np.lexsort((key, reached))
            reached = reached[order]
            firsts = np.ones(reached.size, bool)
            firsts[1:] = reached[1:] != reached[:-1]
            found = reached[firsts]
            chosen = order[firsts]
            level += 1
            depth_of[found] = level
            pred[found] = source[chosen]
            edge_at[found] = at[chosen]
            if found.size:
                levels.append(found)
            frontier = found
        return Walk(self, first, levels, depth_of, pred, edge_at, followed)


class Walk:
    """What :meth:`ColumnIndex.walk` found: the states reached, as the database walk's rows
    (:meth:`rows`, the reference) or as the store's states (:meth:`states`).

    Args:
        index: the index walked (its arrays as of the walk: the walk runs under its lock).
        start: the start's node.
        levels: the states first reached at each depth from 1, sorted by state.
        depth_of: per state, its depth (-1: not reached; the start's state 0).
        pred: per state reached, the state it was reached from.
        edge_at: per state reached, the position of the edge it was reached by.
        followed: per level, the state reached and the job of every edge followed.
    """

    def __init__(
        self,
        index: ColumnIndex,
        start: int,
        levels: list[Ints],
        depth_of: Ints,
        pred: Ints,
        edge_at: Ints,
        followed: list[tuple[Ints, Ints]],
    ) -> None:
        self._index = index
        self._start = start
        self._seed = start * 2 + 1
        self._levels = levels
        self._depth = depth_of
        self._pred = pred
        self._edge_at = edge_at
        if followed:
            self._into = np.concatenate([f[0] for f in followed])
            self._jobs = np.concatenate([f[1] for f in followed])
        else:
            self._into = self._jobs = np.empty(0, np.int64)
        self._reached = np.concatenate(levels) if levels else np.empty(0, np.int64)

    def keys(self) -> tuple[set[int], set[int]]:
        """The primary keys of the datasets of the states reached, and of the jobs they name."""
        datasets = self._index._node_dataset[self._reached >> 1]
        return set(datasets.tolist()), set(self._jobs.tolist())

    def _grouped(self, group: Ints) -> tuple[Ints, Ints, Ints, Ints]:
        """The distinct jobs of the edges followed, by ``group`` (one per edge followed): the
        groups, where each one's jobs start and how many, and the jobs."""
        order = np.lexsort((self._jobs, group))
        group, jobs = group[order], self._jobs[order]
        distinct = np.ones(group.size, bool)
        distinct[1:] = (group[1:] != group[:-1]) | (jobs[1:] != jobs[:-1])
        group, jobs = group[distinct], jobs[distinct]
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if group.size else group
        groups = group[starts]
        counts = np.diff(np.r_[starts, group.size])
        return groups, starts, counts, jobs

    def _job_keys(self, group: Ints, of: Ints) -> list[int | list[int] | None]:
        """Per state of ``of``, the jobs of the edges followed into its group (``group``: the
        group of each edge's state): one job's key, a sorted list of several, or None."""
        groups, starts, counts, jobs = self._grouped(group)
        if not groups.size:
            return [None] * of.size
        at = np.minimum(np.searchsorted(groups, of), groups.size - 1)
        known = groups[at] == of
        keys: list[Any] = np.where(known, jobs[starts[at]], -1).tolist()
        for i in np.flatnonzero(known & (counts[at] > 1)).tolist():
            begin = int(starts[at[i]])
            keys[i] = jobs[begin : begin + int(counts[at[i]])].tolist()
        return [None if k == -1 else k for k in keys]

    def rows(self) -> list[Reached]:
        """The states as the database walk's rows (:class:`Reached`), ordered by depth: the
        reference that :meth:`states` must agree with."""
        fields = self._index._fields
        texts = self._index._texts
        text_of = self._index._edges[_TEXT]
        start = fields[self._start]
        ordered = np.r_[np.array([self._seed], np.int64), self._reached]
        jobs = self._job_keys(self._into, ordered)
        rows: list[Reached] = []
        if jobs[0] is not None:  # edges back into the start: a row for their jobs only
            rows.append(Reached(*start, 1, 1, *start, 1, "[]", *_jobs(jobs[0])))
        for state, keys in zip(ordered[1:].tolist(), jobs[1:], strict=True):
            pred = int(self._pred[state])
            ds, field = fields[state >> 1]
            pred_ds, pred_field = fields[pred >> 1]
            rows.append(
                Reached(
                    ds,
                    field,
                    state & 1,
                    int(self._depth[state]),
                    pred_ds,
                    pred_field,
                    pred & 1,
                    texts[int(text_of[self._edge_at[state]])],
                    *_jobs(keys),
                )
            )
        return rows

    def states(
        self, dataset: DatasetId, datasets: Mapping[int, DatasetId], jobs: Mapping[int, JobId]
    ) -> list[ReachedColumn]:
        """The states of :meth:`LineageStore.column_downstream`, ``states[0]`` the start: what
        :func:`headwater.store.traversal.column_states` makes of :meth:`rows`, built straight
        from the walk a column at a time (a hub's walk reaches tens of thousands of states).

        ``datasets`` names every dataset of the index (:meth:`ColumnIndex.dataset_keys`) unless
        its ranks are built, then at least those of :meth:`keys`; ``jobs`` names the jobs of
        :meth:`keys`; ``dataset`` is the start's.
        """
        index = self._index
        fields = index._fields
        seed = self._seed
        ranks = index.ranks(datasets)
        # as column_states orders them: depth (the level), dataset, field, direct; the start's
        # other state is not listed (its jobs are the start's)
        ordered = np.concatenate(
            [np.array([seed], np.int64)]
            + [level[np.argsort(ranks[level])] for level in self._levels]
        )
        ordered = ordered[ordered != seed - 1]
        # a field reached in both states: each lists the jobs of either
        both = self._depth[self._into ^ 1] >= 0
        keys = self._job_keys(
            np.where(both, self._into | 1, self._into),
            np.where(self._depth[ordered ^ 1] >= 0, ordered | 1, ordered),
        )
        position = np.zeros(self._depth.size, np.int64)
        position[ordered] = np.arange(ordered.size)
        reached = ordered[1:]
        named_jobs = [
            ()
            if k is None
            else (jobs[k],)
            if isinstance(k, int)
            else tuple(sorted(map(jobs.__getitem__, k)))
            for k in keys
        ]
        text_numbers = index._edges[_TEXT][self._edge_at[reached]].tolist()
        decoded = {n: tuple(orjson.loads(index._texts[n])) for n in set(text_numbers)}
        nodes = (reached >> 1).tolist()
        start = ReachedColumn(dataset, fields[self._start][1], 0, True, None, (), named_jobs[0])
        columns = zip(
            map(datasets.__getitem__, index._node_dataset[reached >> 1].tolist()),
            map(index._field_names.__getitem__, nodes),
            self._depth[reached].tolist(),
            (reached & 1 == 1).tolist(),
            position[self._pred[reached]].tolist(),
            map(decoded.__getitem__, text_numbers),
            named_jobs[1:],
            strict=True,
        )
        # tuple.__new__ builds each named tuple without a Python call per state
        return [start, *map(tuple.__new__, repeat(ReachedColumn), columns)]


def _jobs(jobs: int | list[int] | None) -> tuple[int | None, str | None]:
    """``(job, None)`` for one job, ``(None, "id,id,...")`` for several (sorted)."""
    if jobs is None:
        return None, None
    if isinstance(jobs, int):
        return jobs, None
    return None, ",".join(map(str, jobs))
