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


Node = DatasetId | JobId
IdEdge = tuple[str, str]  # (origin, destination) node ids


def _walk(
    store: LineageStore,
    start: Node,
    depth: int,
    upstream: bool,
    nodes: dict[str, Node],
    edges: set[IdEdge],
    as_of: datetime | None = None,
) -> None:
    """Add the nodes (by node id) and edges reached from ``start`` in one direction."""
    for te in store.jobs_reached(start, depth, "upstream" if upstream else "downstream", as_of):
        job = te.job.node_id()
        nodes[job] = te.job
        for ds in te.inputs:
            ds_id = ds.node_id()
            edges.add((ds_id, job))
            if upstream:
                nodes[ds_id] = ds
        for ds in te.outputs:
            ds_id = ds.node_id()
            edges.add((job, ds_id))
            if not upstream:
                nodes[ds_id] = ds


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
        ``{"graph": [{"id", "type": "DATASET"|"JOB", "data", "inEdges", "outEdges"}]}``. Values
        nested in a node's ``data`` may be shared with the store's node cache: read-only.

    Raises:
        NotFound: the node is not in the store.
    """
    start: Node = node.dataset if isinstance(node, FieldId) else node
    if not store.node_exists(start):
        msg = f"node {start.node_id()} not found"
        raise NotFound(msg)
    nodes: dict[str, Node] = {start.node_id(): start}
    edges: set[IdEdge] = set()
    if direction in ("upstream", "both"):
        _walk(store, start, depth, True, nodes, edges, as_of)
    if direction in ("downstream", "both"):
        _walk(store, start, depth, False, nodes, edges, as_of)
    return {"graph": _graph(store, nodes, edges, lean)}


def graph_nodes(
    store: LineageStore, nodes: set[Node], edges: set[Edge], lean: bool = False
) -> list[Json]:
    """Marquez graph nodes for ``nodes`` with their in/out edges (those between two of
    ``nodes``), sorted by id."""
    by_id = {n.node_id(): n for n in nodes}
    return _graph(store, by_id, {(a.node_id(), b.node_id()) for a, b in edges}, lean)


def _graph(
    store: LineageStore, nodes: dict[str, Node], edges: set[IdEdge], lean: bool
) -> list[Json]:
    """:func:`graph_nodes` over node ids: string keys hash once, dataclass keys on every look-up."""
    datasets: dict[DatasetId, Json] = {}
    jobs: dict[JobId, Json] = {}
    if not lean:
        datasets = store.datasets_by_id([n for n in nodes.values() if isinstance(n, DatasetId)])
        jobs = store.jobs_by_id([n for n in nodes.values() if isinstance(n, JobId)])
    ins: dict[str, list[Json]] = {n: [] for n in nodes}
    outs: dict[str, list[Json]] = {n: [] for n in nodes}
    for origin, dest in sorted(edges):
        if origin in nodes and dest in nodes:
            edge = {"origin": origin, "destination": dest}
            outs[origin].append(edge)
            ins[dest].append(edge)
    result: list[Json] = []
    for node_id in sorted(nodes):
        n = nodes[node_id]
        # the store hands out a dict of its own per node: its "type" can be replaced in place
        if isinstance(n, DatasetId):
            kind, data = "DATASET", datasets.get(n)
        else:
            kind, data = "JOB", jobs.get(n)
        if data is None:
            data = {
                "id": {"namespace": n.namespace, "name": n.name},
                "name": n.name,
                "namespace": n.namespace,
            }
        data["type"] = kind
        result.append(
            {
                "id": node_id,
                "type": kind,
                "data": data,
                "inEdges": ins[node_id],
                "outEdges": outs[node_id],
            }
        )
    return result
