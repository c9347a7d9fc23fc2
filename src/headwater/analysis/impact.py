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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from headwater.gcpause import pausing_gc
from headwater.graph import lineage
from headwater.model.nodes import DatasetId, FieldId, JobId, NodeId
from headwater.store.base import LineageStore, NotFound

Change = Literal["drop", "type", "rename"]
Field = tuple[DatasetId, str]


@dataclass(frozen=True)
class Affected:
    """One downstream column (or dataset, with ``field`` None)."""

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


@dataclass(frozen=True)
class ImpactEdge:
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


def _column_impact(
    store: LineageStore, start: FieldId, depth: int, as_of: datetime | None = None
) -> tuple[list[Affected], set[str], list[ImpactEdge]]:
    origin: Field = (start.dataset, start.field)
    seen: dict[Field, Affected] = {}
    chains: dict[Field, str] = {origin: f"{_short(start.dataset)}.{start.field}"}
    kinds: dict[Field, Literal["DIRECT", "INDIRECT"]] = {origin: "DIRECT"}
    jobs_of: dict[Field, set[str]] = defaultdict(set)
    all_jobs: set[str] = set()
    edges: dict[tuple[str, str, str], ImpactEdge] = {}
    frontier = [origin]
    for level in range(1, depth + 1):
        if not frontier:
            break
        nxt: list[Field] = []
        for edge in store.column_edges(frontier, "downstream", as_of):
            if not edge.out_field:
                continue
            src: Field = (edge.in_dataset, edge.in_field)
            dst: Field = (edge.out_dataset, edge.out_field)
            direct = next((t for t in edge.transformations if t.get("type") == "DIRECT"), None)
            kind: Literal["DIRECT", "INDIRECT"] = (
                "DIRECT" if direct is not None and kinds.get(src) == "DIRECT" else "INDIRECT"
            )
            job = f"{edge.job.namespace}:{edge.job.name}"
            all_jobs.add(job)
            jobs_of[dst].add(job)
            hop_ids = (FieldId(*src).node_id(), FieldId(*dst).node_id(), job)
            if hop_ids not in edges or direct is not None:
                edges[hop_ids] = ImpactEdge(
                    *hop_ids, "DIRECT" if direct is not None else "INDIRECT"
                )
            if dst in chains and (kinds[dst] == "DIRECT" or kind == "INDIRECT"):
                continue
            desc = (direct or (edge.transformations[0] if edge.transformations else {})).get(
                "description"
            ) or ""
            hop = f"{dst[1]} ({desc})" if desc and desc != dst[1] else dst[1]
            if dst[0] != src[0]:
                hop = f"{_short(dst[0])}.{hop}"
            chains[dst] = f"{chains[src]} -> {hop}"
            first_time = dst not in kinds
            kinds[dst] = kind
            seen[dst] = Affected(dst[0], dst[1], level, kind, (), chains[dst])
            if first_time:
                nxt.append(dst)
        frontier = nxt
    affected = [
        Affected(
            a.dataset,
            a.field,
            a.depth,
            a.kind,
            tuple(sorted(jobs_of[(a.dataset, a.field or "")])),
            a.chain,
        )
        for a in seen.values()
    ]
    ordered = sorted(affected, key=lambda a: (a.depth, a.dataset, a.field or ""))
    return ordered, all_jobs, list(edges.values())


def _dataset_impact(
    store: LineageStore, start: DatasetId, depth: int, as_of: datetime | None = None
) -> tuple[list[Affected], set[str], list[ImpactEdge]]:
    graph = {n["id"]: n for n in lineage(store, start, depth, "downstream", as_of)["graph"]}
    depth_of = {start.node_id(): 0}
    chain = {start.node_id(): _short(start)}
    frontier = [start.node_id()]
    affected: list[Affected] = []
    jobs: set[str] = set()
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
                    jobs.add(f"{node['data']['namespace']}:{node['data']['name']}")
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


def _owners(store: LineageStore, datasets: set[DatasetId], jobs: set[str]) -> dict[str, list[str]]:
    owners: dict[str, set[str]] = defaultdict(set)
    job_ids = [JobId(*j.split(":", 1)) for j in sorted(jobs)]
    for node, facets in store.facets_of([*sorted(datasets), *job_ids], ["ownership"]).items():
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
        affected, jobs, edges = _column_impact(store, node, depth, as_of)
    else:
        affected, jobs, edges = _dataset_impact(store, node, depth, as_of)
    owners = _owners(store, {a.dataset for a in affected}, jobs)
    label = f"{_short(node.dataset)}.{node.field}" if isinstance(node, FieldId) else _short(node)
    return ImpactReport(
        node.node_id(), label, change, tuple(affected), tuple(sorted(jobs)), owners, tuple(edges)
    )
