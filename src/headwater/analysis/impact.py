"""Impact analysis: what depends on a dataset or column, and what a change would break.

For a column, downstream column lineage is walked in one store call
(:meth:`LineageStore.column_downstream`), and the report is built in one pass over its states:
for every reached column its depth, kind and jobs, with the transformation chain
(``products_source.cost -> total_cost (SUM(...)) -> total_profit``) and the impact graph built
when first read (a hub column reaches tens of thousands; the JSON form reads them all). A column
reached only through INDIRECT edges (joins, filters, grouping) is affected differently from one
computed from the value (DIRECT): a type change breaks the latter, a drop or rename breaks both.
For a dataset, table-level downstream lineage gives the datasets and jobs. Owners to notify come
from ownership facets of the affected datasets and jobs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Literal, NamedTuple, TypeVar, overload

from headwater.gcpause import pausing_gc
from headwater.graph import lineage
from headwater.model.nodes import DatasetId, FieldId, JobId, NodeId
from headwater.model.transformations import is_direct
from headwater.store.base import Json, LineageStore, NotFound, ReachedColumn

Change = Literal["drop", "type", "rename"]
T = TypeVar("T")
Field = tuple[DatasetId, str]


class Affected:
    """One downstream column (or dataset, with ``field`` None).

    A plain class with slots: a hub's report holds tens of thousands. The chain may be given
    as text, or as a column walk's :class:`Chains` and the state's position in it: then it is
    built when first read (:attr:`chain`), and kept.

    Attributes:
        dataset: the dataset.
        field: the column (None for a dataset).
        depth: jobs from the changed node.
        kind: DIRECT when the changed value flows into it, INDIRECT when it is only used in
            joins, filters or grouping on the way.
        jobs: the jobs that write it from what the change affects (``namespace:name``).
    """

    __slots__ = ("_at", "_chain", "dataset", "depth", "field", "jobs", "kind")

    def __init__(
        self,
        dataset: DatasetId,
        field: str | None,
        depth: int,
        kind: Literal["DIRECT", "INDIRECT"],
        jobs: tuple[str, ...],
        chain: str | Chains,
        at: int = 0,
    ) -> None:
        self.dataset = dataset
        self.field = field
        self.depth = depth
        self.kind = kind
        self.jobs = jobs
        self._chain = chain
        self._at = at

    @property
    def chain(self) -> str:
        """The path from the changed node, e.g. ``orders.qty -> total (SUM(qty)) -> margin``."""
        chain = self._chain
        if isinstance(chain, str):
            return chain
        text = self._chain = chain[self._at]
        return text

    def _key(self) -> tuple[Any, ...]:
        return (self.dataset, self.field, self.depth, self.kind, self.jobs, self.chain)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Affected) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={value!r}"
            for name, value in zip(
                ("dataset", "field", "depth", "kind", "jobs", "chain"), self._key(), strict=True
            )
        )
        return f"Affected({fields})"

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "namespace": self.dataset.namespace,
            "dataset": self.dataset.name,
            "field": self.field,
            "depth": self.depth,
            "kind": self.kind,
            "jobs": list(self.jobs),
            "chain": self.chain,
        }


class Chains:
    """The transformation chains of a column walk's states, each built when first read and kept.

    A state's chain is its predecessor's, then `` -> `` and the state's field: with the dataset
    when it changes, and with the description of the edge's DIRECT transformation (else its
    first) unless that is the field's own name: ``products_source.cost -> total_cost
    (SUM(cost)) -> total_profit``. A hub's report lists tens of thousands of columns and most
    readers show a few; serializing all of them builds each once, from its predecessor's.

    Args:
        states: the walk (:meth:`LineageStore.column_downstream`), ``states[0]`` the start.
        start: the start's chain (``dataset.field``).
    """

    def __init__(self, states: Sequence[ReachedColumn], start: str) -> None:
        self._states = states
        self._text: list[str | None] = [None] * len(states)
        self._text[0] = start
        self._described: dict[int, str] = {}  # by transformations tuple: states share few
        self._short: dict[str, str] = {}

    def __getitem__(self, at: int) -> str:
        """The chain of ``states[at]``."""
        texts = self._text
        text = texts[at]
        if text is not None:
            return text
        states = self._states
        pending = []
        while text is None:  # up to the nearest state whose chain is built (the start's is)
            pending.append(at)
            at = states[at].via or 0
            text = texts[at]
        for i in reversed(pending):
            text = texts[i] = f"{text} -> {self._hop(i)}"
        return text

    def _hop(self, at: int) -> str:
        dataset, field, _, _, via, steps, _ = self._states[at]
        desc = self._described.get(id(steps))
        if desc is None:
            desc = self._described[id(steps)] = _hop_description(steps)
        hop = f"{field} ({desc})" if desc and desc != field else field
        source = self._states[via or 0].dataset
        if dataset is not source and (
            dataset.name != source.name or dataset.namespace != source.namespace
        ):
            name = self._short.get(dataset.name)
            if name is None:
                name = self._short[dataset.name] = _short(dataset)
            hop = f"{name}.{hop}"
        return hop


class ImpactEdge(NamedTuple):
    """A hop of the impact graph: ``source`` feeds ``target`` through ``job`` (node ids)."""

    source: str
    target: str
    job: str
    kind: Literal["DIRECT", "INDIRECT"]

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"source": self.source, "target": self.target, "job": self.job, "kind": self.kind}


class Deferred(Sequence[T]):
    """A sequence built on first use (then kept): for the parts of a report that only its JSON
    form shows, such as a hub column's impact graph of tens of thousands of edges.

    Args:
        build: makes the items; called at most once.
    """

    def __init__(self, build: Callable[[], Sequence[T]]) -> None:
        self._build: Callable[[], Sequence[T]] | None = build
        self._items: Sequence[T] = ()

    def _built(self) -> Sequence[T]:
        build = self._build
        if build is not None:
            self._items = build()
            self._build = None
        return self._items

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        return self._built()[index]

    def __len__(self) -> int:
        return len(self._built())

    def __iter__(self) -> Iterator[T]:
        return iter(self._built())

    def __repr__(self) -> str:
        return f"Deferred({list(self._built())!r})"


@dataclass(frozen=True)
class ImpactReport:
    """Everything downstream of a node, and the verdict for a change."""

    node: str
    label: str
    change: Change | None
    affected: tuple[Affected, ...]
    jobs: tuple[str, ...]
    owners: dict[str, list[str]] = field(default_factory=dict)
    edges: Sequence[ImpactEdge] = ()  # a column's: Deferred, built when first read

    @property
    def breaking(self) -> tuple[Affected, ...]:
        """What the change breaks: everything for drop/rename, DIRECT consumers for a type change."""
        if self.change == "type":
            return tuple(a for a in self.affected if a.kind == "DIRECT")
        return self.affected

    @property
    def verdict(self) -> str:
        """One sentence a person can act on."""
        if self.change is None:
            return f"{len(self.affected)} downstream {'columns' if self._columns else 'datasets'} depend on {self.label}"
        if not self.breaking:
            reason = (
                "no downstream use"
                if not self.affected
                else "it is only used in joins, filters or grouping"
            )
            return f"safe to {self.change} {self.label}: {reason}"
        what = {"drop": "dropping", "rename": "renaming", "type": "changing the type of"}[
            self.change
        ]
        return f"{what} {self.label} breaks {len(self.breaking)} downstream {'columns' if self._columns else 'datasets'} in {len(self.jobs)} jobs"

    @property
    def _columns(self) -> bool:
        return any(a.field is not None for a in self.affected)

    def to_json(self) -> dict[str, Any]:
        """JSON form (for ``--format json`` and the API)."""
        affected = [a.to_json() for a in self.affected]
        breaking: list[dict[str, Any]] = []
        if self.change == "type":
            breaking = [a for a in affected if a["kind"] == "DIRECT"]
        elif self.change:
            breaking = list(affected)  # the same objects: a hub's list is long
        return {
            "node": self.node,
            "change": self.change,
            "verdict": self.verdict,
            "safe": not self.breaking if self.change else None,
            "affected": affected,
            "breaking": breaking,
            "jobs": list(self.jobs),
            "owners": self.owners,
            "edges": [e.to_json() for e in self.edges],
        }


def _short(dataset: DatasetId) -> str:
    return dataset.name.rstrip("/").rsplit("/", 1)[-1]


def _hop_description(transformations: tuple[dict[str, Any], ...]) -> str:
    """The description a chain shows for an edge: its DIRECT transformation's, else its first's."""
    for step in transformations:
        if step.get("type") == "DIRECT":
            return str(step.get("description") or "")
    return str(transformations[0].get("description") or "") if transformations else ""


def _column_impact(
    store: LineageStore, start: FieldId, depth: int, as_of: datetime | None = None
) -> tuple[list[Affected], set[str], dict[str, list[str]], Sequence[ImpactEdge]]:
    reach = store.column_downstream((start.dataset, start.field), depth, as_of, ["ownership"])
    states = reach.states
    if not states:
        return [], set(), {}, []
    # Built for tens of thousands of states, in one pass over them: the store orders them by
    # depth, dataset and field, as the report lists them, and shares one JobId per job, so job
    # names are formatted once per job (looked up by identity; equal ids give equal text).
    # A field reached both along DIRECT edges and through an INDIRECT step has two states: the
    # report lists it once, DIRECT.
    carried: set[tuple[str, str, str]] = set()  # the fields reached along DIRECT edges
    if not all(s.direct for s in states):
        carried = {(s.dataset.namespace, s.dataset.name, s.field) for s in states[1:] if s.direct}
    # every job followed, as the report names it, by identity: a 1-tuple of its name (most
    # states have one job), and the names of the tuples of several
    single: dict[int, tuple[str]] = {}
    several: dict[tuple[str, ...], tuple[str, ...]] = {}
    chains = Chains(states, f"{_short(start.dataset)}.{start.field}")
    affected: list[Affected] = []
    append = affected.append
    for i, (dataset, column, depth_, direct, _, _, jobs) in enumerate(states):
        if not direct and carried and (dataset.namespace, dataset.name, column) in carried:
            continue
        if len(jobs) == 1:
            texts: tuple[str, ...] | None = single.get(id(jobs[0]))
            if texts is None:
                texts = single[id(jobs[0])] = (f"{jobs[0].namespace}:{jobs[0].name}",)
        else:
            texts = tuple(sorted(f"{job.namespace}:{job.name}" for job in jobs))
            texts = several.setdefault(texts, texts)
        append(
            Affected(dataset, column, depth_, "DIRECT" if direct else "INDIRECT", texts, chains, i)
        )
    del affected[0]  # the start: listed for the jobs of edges back into it, through a cycle
    job_names = {name for (name,) in single.values()}.union(*several)
    return (
        affected,
        job_names,
        _owners(_reached_facets(start.dataset, states, reach.facets)),
        Deferred(partial(_tree_edges, states, len(affected) < len(states) - 1)),
    )


def _reached_facets(
    start: DatasetId, states: Sequence[ReachedColumn], facets: dict[DatasetId | JobId, Json]
) -> Iterable[tuple[DatasetId | JobId, Json]]:
    """The facets of the jobs and affected datasets: the store returns them for every node its
    states name, so only the start's dataset is left out, unless other columns of it are
    affected."""
    if start not in facets:
        return facets.items()
    name, namespace = start.name, start.namespace
    if any(s.dataset.name == name and s.dataset.namespace == namespace for s in states[1:]):
        return facets.items()
    return [(node, value) for node, value in facets.items() if node != start]


def _tree_edges(states: Sequence[ReachedColumn], mixed: bool) -> list[ImpactEdge]:
    """The impact graph of a column: each reached field joined to the field it was reached from
    (the walk's tree), DIRECT when that edge carries the value, once per pair of fields (a pair
    can repeat only when a field was reached in both states: ``mixed``)."""
    ids = [f"datasetField:{s.dataset.namespace}:{s.dataset.name}:{s.field}" for s in states]
    carries: dict[int, bool] = {}  # by transformations tuple: states share few distinct ones
    names: dict[int, str] = {}  # by JobId: the store shares one per job
    edges: list[ImpactEdge] = []
    kept: dict[tuple[str, str], int] = {}  # with mixed states: each pair's position in edges
    for i in range(1, len(states)):
        _, _, _, _, via, steps, jobs = states[i]
        direct = carries.get(id(steps))
        if direct is None:
            direct = carries[id(steps)] = is_direct(steps)
        pair = (ids[via or 0], ids[i])
        at = kept.get(pair) if mixed else None
        if at is not None and (edges[at].kind == "DIRECT" or not direct):
            continue
        job = ""
        if jobs:
            job = names.get(id(jobs[0]), "")
            if not job:
                job = names[id(jobs[0])] = f"{jobs[0].namespace}:{jobs[0].name}"
        edge = ImpactEdge(*pair, job, "DIRECT" if direct else "INDIRECT")
        if at is not None:
            edges[at] = edge
            continue
        if mixed:
            kept[pair] = len(edges)
        edges.append(edge)
    return edges


def _dataset_impact(
    store: LineageStore, start: DatasetId, depth: int, as_of: datetime | None = None
) -> tuple[list[Affected], dict[JobId, str], tuple[ImpactEdge, ...]]:
    graph = {n["id"]: n for n in lineage(store, start, depth, "downstream", as_of)["graph"]}
    depth_of = {start.node_id(): 0}
    chain = {start.node_id(): _short(start)}
    frontier = [start.node_id()]
    affected: list[Affected] = []
    jobs: dict[JobId, str] = {}
    while frontier:
        nxt = []
        for node_id in frontier:
            for edge in graph[node_id]["outEdges"]:
                dest = edge["destination"]
                if dest in depth_of or dest not in graph:
                    continue
                node = graph[dest]
                is_job = node["type"] == "JOB"
                depth_of[dest] = depth_of[node_id] + (1 if is_job else 0)
                label = (
                    f"job {node['data']['name']}"
                    if is_job
                    else _short(DatasetId(node["data"]["namespace"], node["data"]["name"]))
                )
                chain[dest] = f"{chain[node_id]} -> {label}"
                if is_job:
                    job = JobId(node["data"]["namespace"], node["data"]["name"])
                    jobs[job] = f"{job.namespace}:{job.name}"
                else:
                    producers = tuple(e["origin"].split(":", 1)[1] for e in node["inEdges"])
                    ds = DatasetId(node["data"]["namespace"], node["data"]["name"])
                    affected.append(
                        Affected(ds, None, depth_of[dest], "DIRECT", producers, chain[dest])
                    )
                nxt.append(dest)
        frontier = nxt
    edges = [
        ImpactEdge(e_in["origin"], e_out["destination"], node_id.split(":", 1)[1], "DIRECT")
        for node_id in depth_of
        if graph[node_id]["type"] == "JOB"
        for e_in in graph[node_id]["inEdges"]
        if e_in["origin"] in depth_of
        for e_out in graph[node_id]["outEdges"]
        if e_out["destination"] in depth_of
    ]
    return sorted(affected, key=lambda a: (a.depth, a.dataset)), jobs, tuple(edges)


def _owners(facets_of: Iterable[tuple[DatasetId | JobId, dict[str, Any]]]) -> dict[str, list[str]]:
    """Owners (from ``ownership`` facets) to notify, each with the datasets and jobs they own."""
    owners: dict[str, set[str]] = defaultdict(set)
    for node, facets in facets_of:
        label = f"dataset {_short(node)}" if isinstance(node, DatasetId) else f"job {node.name}"
        for owner in (facets.get("ownership") or {}).get("owners") or []:
            owners[str(owner.get("name"))].add(label)
    return {k: sorted(v) for k, v in sorted(owners.items())}


@pausing_gc
def impact(
    store: LineageStore,
    node: NodeId,
    depth: int = 20,
    change: Change | None = None,
    as_of: datetime | None = None,
) -> ImpactReport:
    """Downstream impact of a dataset or column, with a verdict for ``change``.

    Args:
        store: the lineage store.
        node: a dataset or a column (``FieldId``).
        depth: how many jobs downstream to follow.
        change: ``drop``, ``type`` or ``rename`` for a verdict; None to just list dependents.
        as_of: impact on the graph as the job versions of that time defined it (None: now);
            e.g. what a change would have broken before last week's deploy.

    Raises:
        NotFound: unknown node, or a job (impact is for datasets and columns).
    """
    if isinstance(node, JobId):
        msg = "impact analysis takes a dataset or a column, not a job"
        raise NotFound(msg)
    if isinstance(node, FieldId):
        fields = store.dataset_fields([node.dataset]).get(node.dataset)
        if fields is None:
            msg = f"node {node.dataset.node_id()} not found"
            raise NotFound(msg)
        if fields and node.field not in {f["name"] for f in fields}:
            msg = f"{node.dataset.name} has no column {node.field!r}"
            raise NotFound(msg)
        affected, jobs, owners, edges = _column_impact(store, node, depth, as_of)
    else:
        affected, job_ids, edges = _dataset_impact(store, node, depth, as_of)
        facets = store.facets_of([*{a.dataset for a in affected}, *job_ids], ["ownership"])
        owners = _owners(facets.items())
        jobs = set(job_ids.values())
    label = f"{_short(node.dataset)}.{node.field}" if isinstance(node, FieldId) else _short(node)
    return ImpactReport(
        node.node_id(), label, change, tuple(affected), tuple(sorted(jobs)), owners, edges
    )
