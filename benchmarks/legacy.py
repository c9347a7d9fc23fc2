"""The level-by-level walks that the database walks replaced, kept as same-run baselines.

``impact_by_level`` is column impact as it was before ``LineageStore.column_downstream``: one
``column_edges`` query per level, the report built edge by edge, owners through ``facets_of``.
``lineage_by_level`` is table lineage before ``LineageStore.jobs_reached``: one ``jobs_touching``
query per level. Both read through the store's public primitives, so they measure what the old
code did against today's store.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Literal

from headwater.analysis.impact import Affected, ImpactReport, _short
from headwater.gcpause import pausing_gc
from headwater.graph.table import Edge, graph_nodes
from headwater.model import DatasetId, FieldId, JobId
from headwater.store import LineageStore, TableEdges

Field = tuple[DatasetId, str]


@pausing_gc
def impact_by_level(
    store: LineageStore, start: FieldId, depth: int = 20, as_of: datetime | None = None
) -> ImpactReport:
    """Column impact of ``start`` walked one level (one store query) at a time."""
    store.dataset_fields([start.dataset])  # impact checks the column exists first
    origin: Field = (start.dataset, start.field)
    seen: dict[Field, Affected] = {}
    chains: dict[Field, str] = {origin: f"{_short(start.dataset)}.{start.field}"}
    kinds: dict[Field, Literal["DIRECT", "INDIRECT"]] = {origin: "DIRECT"}
    jobs_of: dict[Field, set[str]] = defaultdict(set)
    all_jobs: set[str] = set()
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
    affected = sorted(
        (
            Affected(
                a.dataset,
                a.field,
                a.depth,
                a.kind,
                tuple(sorted(jobs_of[(a.dataset, a.field or "")])),
                a.chain,
            )
            for a in seen.values()
        ),
        key=lambda a: (a.depth, a.dataset, a.field or ""),
    )
    owners: dict[str, set[str]] = defaultdict(set)
    job_ids = [JobId(*j.split(":", 1)) for j in sorted(all_jobs)]
    datasets = sorted({a.dataset for a in affected})
    for node, facets in store.facets_of([*datasets, *job_ids], ["ownership"]).items():
        label = f"dataset {_short(node)}" if isinstance(node, DatasetId) else f"job {node.name}"
        for owner in (facets.get("ownership") or {}).get("owners") or []:
            owners[str(owner.get("name"))].add(label)
    label = f"{_short(start.dataset)}.{start.field}"
    return ImpactReport(
        start.node_id(),
        label,
        None,
        tuple(affected),
        tuple(sorted(all_jobs)),
        {k: sorted(v) for k, v in sorted(owners.items())},
    )


def _walk(
    store: LineageStore,
    start: DatasetId | JobId,
    depth: int,
    upstream: bool,
    nodes: set[DatasetId | JobId],
    edges: set[Edge],
) -> None:
    frontier: list[DatasetId] = [start] if isinstance(start, DatasetId) else []
    reached: list[TableEdges] = store.job_edges([start]) if isinstance(start, JobId) else []
    seen: set[DatasetId | JobId] = {start}
    hops = 0
    while True:
        for te in reached:
            edges.update((ds, te.job) for ds in te.inputs)
            edges.update((te.job, ds) for ds in te.outputs)
            for ds in te.inputs if upstream else te.outputs:
                nodes.add(ds)
                if ds not in seen:
                    seen.add(ds)
                    frontier.append(ds)
        if not frontier or hops >= depth:
            return
        hops += 1
        reached = [
            te
            for te in store.jobs_touching(frontier, "out" if upstream else "in")
            if te.job not in seen
        ]
        seen.update(te.job for te in reached)
        nodes.update(te.job for te in reached)
        frontier = []
        if not reached:
            return


@pausing_gc
def lineage_by_level(
    store: LineageStore,
    start: DatasetId | JobId,
    depth: int,
    upstream: bool,
    lean: bool = False,
) -> dict[str, Any]:
    """Table lineage in one direction, walked one level (one store query) at a time."""
    nodes: set[DatasetId | JobId] = {start}
    edges: set[Edge] = set()
    _walk(store, start, depth, upstream, nodes, edges)
    edges = {(a, b) for a, b in edges if a in nodes and b in nodes}
    return {"graph": graph_nodes(store, nodes, edges, lean)}
