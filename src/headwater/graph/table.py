"""Table-level lineage: datasets and jobs, in Marquez's ``/api/v1/lineage`` shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from headwater.gcpause import pausing_gc
from headwater.model.nodes import DatasetId, FieldId, JobId, NodeId
from headwater.store.base import Direction, LineageStore, NotFound

Json = dict[str, Any]
Edge = tuple[
    DatasetId | JobId, DatasetId | JobId
]  # (origin, destination), data flows origin -> destination


def _walk(
    store: LineageStore,
    start: DatasetId | JobId,
    depth: int,
    upstream: bool,
    nodes: set[DatasetId | JobId],
    edges: set[Edge],
    as_of: datetime | None = None,
) -> None:
    for te in store.jobs_reached(start, depth, "upstream" if upstream else "downstream", as_of):
        nodes.add(te.job)
        edges.update((ds, te.job) for ds in te.inputs)
        edges.update((te.job, ds) for ds in te.outputs)
        nodes.update(te.inputs if upstream else te.outputs)


@pausing_gc
def lineage(
    store: LineageStore,
    node: NodeId,
    depth: int = 20,
    direction: Direction = "both",
    as_of: datetime | None = None,
    lean: bool = False,
) -> Json:
    """The lineage graph around a dataset or job.

    Args:
        store: the lineage store.
        node: a dataset or job (a field's dataset is used for a field).
        depth: how many jobs away to go in each direction.
        direction: ``upstream``, ``downstream`` or ``both``.
        as_of: the graph as the job versions current at that time defined it (None: now).
        lean: node ``data`` holds only the id, name, namespace and type (no facets, schema or
            latest run): for large graphs, where reading every node's details dominates.

    Returns:
        ``{"graph": [{"id", "type": "DATASET"|"JOB", "data", "inEdges", "outEdges"}]}``.

    Raises:
        NotFound: the node is not in the store.
    """
    start: DatasetId | JobId = node.dataset if isinstance(node, FieldId) else node
    if not store.node_exists(start):
        msg = f"node {start.node_id()} not found"
        raise NotFound(msg)
    nodes: set[DatasetId | JobId] = {start}
    edges: set[Edge] = set()
    if direction in ("upstream", "both"):
        _walk(store, start, depth, True, nodes, edges, as_of)
    if direction in ("downstream", "both"):
        _walk(store, start, depth, False, nodes, edges, as_of)
    edges = {(a, b) for a, b in edges if a in nodes and b in nodes}
    return {"graph": graph_nodes(store, nodes, edges, lean)}


def graph_nodes(
    store: LineageStore, nodes: set[DatasetId | JobId], edges: set[Edge], lean: bool = False
) -> list[Json]:
    """Marquez graph nodes for ``nodes`` with their in/out edges, sorted by id."""
    datasets = {} if lean else store.datasets_by_id([n for n in nodes if isinstance(n, DatasetId)])
    jobs = {} if lean else store.jobs_by_id([n for n in nodes if isinstance(n, JobId)])
    ins: dict[DatasetId | JobId, list[Json]] = {n: [] for n in nodes}
    outs: dict[DatasetId | JobId, list[Json]] = {n: [] for n in nodes}
    for origin, dest in sorted(edges, key=lambda e: (e[0].node_id(), e[1].node_id())):
        edge = {"origin": origin.node_id(), "destination": dest.node_id()}
        outs[origin].append(edge)
        ins[dest].append(edge)
    result: list[Json] = []
    for n in sorted(nodes, key=lambda x: x.node_id()):
        data: Json
        if isinstance(n, DatasetId):
            data = datasets.get(n) or {
                "id": {"namespace": n.namespace, "name": n.name},
                "name": n.name,
                "namespace": n.namespace,
            }
            kind = "DATASET"
        else:
            data = jobs.get(n) or {
                "id": {"namespace": n.namespace, "name": n.name},
                "name": n.name,
                "namespace": n.namespace,
            }
            kind = "JOB"
        result.append(
            {
                "id": n.node_id(),
                "type": kind,
                "data": {**data, "type": kind},
                "inEdges": ins[n],
                "outEdges": outs[n],
            }
        )
    return result
