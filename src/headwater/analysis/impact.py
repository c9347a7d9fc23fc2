"""Impact analysis: what depends on a dataset or column, and what a change would break.

For a column, downstream column lineage is walked level by level (one store call per level),
keeping for every reached column its depth, the path from the changed column, and the
transformation chain (``products_source.cost -> total_cost (SUM(...)) -> total_profit``). A column
reached only through INDIRECT edges (joins, filters, grouping) is affected differently from one
computed from the value (DIRECT): a type change breaks the latter, a drop or rename breaks both.
For a dataset, table-level downstream lineage gives the datasets and jobs. Owners to notify come
from ownership facets of the affected datasets and jobs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any, Literal, NamedTuple

from headwater.gcpause import pausing_gc
from headwater.graph import lineage
from headwater.model.nodes import DatasetId, FieldId, JobId, NodeId
from headwater.store.base import LineageStore, NotFound

Change = Literal["drop", "type", "rename"]
Field = tuple[DatasetId, str]


class Affected(NamedTuple):
    """One downstream column (or dataset, with ``field`` None).

    A named tuple: a hub's report holds tens of thousands, built several times faster than
    frozen dataclasses.
    """

    dataset: DatasetId
    field: str | None
    depth: int
    kind: Literal["DIRECT", "INDIRECT"]
    jobs: tuple[str, ...]
    chain: str

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


class ImpactEdge(NamedTuple):
    """A hop of the impact graph: ``source`` feeds ``target`` through ``job`` (node ids)."""

    source: str
    target: str
    job: str
    kind: Literal["DIRECT", "INDIRECT"]

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {"source": self.source, "target": self.target, "job": self.job, "kind": self.kind}


@dataclass(frozen=True)
class ImpactReport:
    """Everything downstream of a node, and the verdict for a change."""

    node: str
    label: str
    change: Change | None
    affected: tuple[Affected, ...]
    jobs: tuple[str, ...]
    owners: dict[str, list[str]] = field(default_factory=dict)
    edges: tuple[ImpactEdge, ...] = ()

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
        return {
            "node": self.node,
            "change": self.change,
            "verdict": self.verdict,
            "safe": not self.breaking if self.change else None,
            "affected": [a.to_json() for a in self.affected],
            "breaking": [a.to_json() for a in self.breaking] if self.change else [],
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
) -> tuple[list[Affected], set[str], dict[str, list[str]], list[ImpactEdge]]:
    reach = store.column_downstream((start.dataset, start.field), depth, as_of, ["ownership"])
    states = reach.states
    if not states:
        return [], set(), {}, []
    # Built for tens of thousands of states: keys are tuples of strings (the id dataclasses hash
    # in Python), and the store shares one tuple among edges with equal transformations, so
    # their description is found once per distinct tuple.
    short: dict[str, str] = {}
    described: dict[int, str] = {}
    job_names: dict[tuple[str, str], str] = {}  # every job followed, as the report names it
    job_text: dict[int, str] = {}
    chains = [f"{_short(start.dataset)}.{start.field}"]
    label: dict[tuple[str, str, str], int] = {}  # a field's state: the DIRECT one if it has one
    for job in states[0].jobs:  # edges back into the start, through a cycle
        job_names[job.namespace, job.name] = f"{job.namespace}:{job.name}"
    for i in range(1, len(states)):
        dataset, field, _, direct, via, steps, _ = states[i]
        via = via or 0
        desc = described.get(id(steps))
        if desc is None:
            desc = described[id(steps)] = _hop_description(steps)
        hop = f"{field} ({desc})" if desc and desc != field else field
        source = states[via].dataset
        if dataset is not source and (
            dataset.name != source.name or dataset.namespace != source.namespace
        ):
            name = short.get(dataset.name)
            if name is None:
                name = short[dataset.name] = _short(dataset)
            hop = f"{name}.{hop}"
        chains.append(f"{chains[via]} -> {hop}")
        key = (dataset.namespace, dataset.name, field)
        seen = label.get(key)
        if seen is None or (direct and not states[seen].direct):
            label[key] = i
    ranked = []
    for (namespace, name, field), i in label.items():
        dataset, _, depth_, direct, _, _, jobs = states[i]
        texts = []
        for job in jobs:  # the store shares one JobId per job: looked up by identity
            text = job_text.get(id(job))
            if text is None:
                text = job_text[id(job)] = f"{job.namespace}:{job.name}"
                job_names[job.namespace, job.name] = text
            texts.append(text)
        kind: Literal["DIRECT", "INDIRECT"] = "DIRECT" if direct else "INDIRECT"
        texts.sort()
        ranked.append(
            (
                (depth_, namespace, name, field),
                Affected(dataset, field, depth_, kind, tuple(texts), chains[i]),
            )
        )
    ranked.sort(key=itemgetter(0))
    # The store returns facets only for nodes that have them: few, so this loop is short.
    datasets = {(namespace, name) for namespace, name, _ in label}
    owned = [
        (node, facets)
        for node, facets in reach.facets.items()
        if isinstance(node, JobId) or (node.namespace, node.name) in datasets
    ]
    return [a for _, a in ranked], set(job_names.values()), _owners(owned), _tree_edges(states)


def _tree_edges(states: list[Any]) -> list[ImpactEdge]:
    """The impact graph of a column: each reached field joined to the field it was reached from
    (the walk's tree), DIRECT when that edge carries the value, once per pair of fields."""
    ids = [f"datasetField:{s.dataset.namespace}:{s.dataset.name}:{s.field}" for s in states]
    edges: dict[tuple[str, str], ImpactEdge] = {}
    carries: dict[int, bool] = {}  # by transformations tuple: states share few distinct ones
    for i in range(1, len(states)):
        state = states[i]
        pair = (ids[state.via or 0], ids[i])
        direct = carries.get(id(state.transformations))
        if direct is None:
            direct = carries[id(state.transformations)] = any(
                step.get("type") == "DIRECT" for step in state.transformations
            )
        if pair in edges and (edges[pair].kind == "DIRECT" or not direct):
            continue
        job = state.jobs[0] if state.jobs else None
        edges[pair] = ImpactEdge(
            *pair, f"{job.namespace}:{job.name}" if job else "", "DIRECT" if direct else "INDIRECT"
        )
    return list(edges.values())


def _dataset_impact(
    store: LineageStore, start: DatasetId, depth: int, as_of: datetime | None = None
) -> tuple[list[Affected], dict[JobId, str], list[ImpactEdge]]:
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
    return sorted(affected, key=lambda a: (a.depth, a.dataset)), jobs, edges


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
        node.node_id(), label, change, tuple(affected), tuple(sorted(jobs)), owners, tuple(edges)
    )
