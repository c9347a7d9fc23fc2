"""Column-level lineage in Marquez's ``/api/v1/column-lineage`` shape.

Nodes are ``DATASET_FIELD``s. Data flows from an input field to an output
field: an edge's ``origin`` is the input field and its ``destination`` the
output field. Each node's ``data.inputFields`` lists its direct inputs with the
full OpenLineage ``transformations`` (Marquez keeps only one type and
description per edge; both are also given, from the first transformation).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from headwater.gcpause import pausing_gc
from headwater.model.nodes import DatasetId, FieldId, JobId, NodeId
from headwater.model.transformations import is_direct
from headwater.store.base import ColumnEdge, LineageStore, NotFound

Json = dict[str, Any]
Field = tuple[DatasetId, str]


def _walk(
    store: LineageStore,
    start: list[Field],
    depth: int,
    upstream: bool,
    found: dict[tuple[Field, Field], ColumnEdge],
    as_of: datetime | None = None,
) -> set[Field]:
    seen: set[Field] = set(start)
    frontier = list(start)
    for _ in range(depth):
        if not frontier:
            break
        batch = store.column_edges(frontier, "upstream" if upstream else "downstream", as_of)
        frontier = []
        for e in batch:
            if not e.out_field:
                continue  # dataset-level dependency: not a field-to-field edge
            src, dst = (e.in_dataset, e.in_field), (e.out_dataset, e.out_field)
            found.setdefault((src, dst), e)
            nxt = src if upstream else dst
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


@pausing_gc
def column_lineage(
    store: LineageStore,
    node: NodeId,
    depth: int = 20,
    with_downstream: bool = False,
    as_of: datetime | None = None,
) -> Json:
    """The column lineage graph of a field (or of every field of a dataset).

    Args:
        store: the lineage store.
        node: a ``datasetField`` or a ``dataset`` (all its fields).
        depth: how many transformations away to go.
        with_downstream: also follow the fields derived from it.
        as_of: the lineage as the job versions current at that time defined it (None: now).

    Returns:
        ``{"graph": [{"id", "type": "DATASET_FIELD", "data", "inEdges", "outEdges"}]}``.

    Raises:
        NotFound: unknown dataset or field.
    """
    if isinstance(node, JobId):
        msg = "column lineage needs a dataset or a datasetField node id, not a job"
        raise NotFound(msg)
    dataset = node.dataset if isinstance(node, FieldId) else node
    schemas = store.dataset_fields([dataset])
    if dataset not in schemas:
        msg = f"node {dataset.node_id()} not found"
        raise NotFound(msg)
    if isinstance(node, FieldId):
        known = {f["name"] for f in schemas[dataset]}
        if known and node.field not in known:
            msg = f"node {node.node_id()} not found: {dataset.name} has no field {node.field!r}"
            raise NotFound(msg)
        start: list[Field] = [(dataset, node.field)]
    else:
        start = [(dataset, f["name"]) for f in schemas[dataset]] or [(dataset, "*")]
    found: dict[tuple[Field, Field], ColumnEdge] = {}
    fields = _walk(store, start, depth, True, found, as_of)
    if with_downstream:
        fields |= _walk(store, start, depth, False, found, as_of)
    fields.discard((dataset, "*"))
    for src, dst in found:
        fields.update((src, dst))
    return {"graph": _nodes(store, fields, found)}


def _nodes(
    store: LineageStore, fields: set[Field], found: dict[tuple[Field, Field], ColumnEdge]
) -> list[Json]:
    schemas = store.dataset_fields(sorted({d for d, _ in fields}))
    versions = {
        d: j.get("currentVersion")
        for d, j in store.datasets_by_id(sorted({d for d, _ in fields})).items()
    }
    types = {(d, f["name"]): f.get("type") for d, fs in schemas.items() for f in fs}
    inputs: dict[Field, list[Json]] = defaultdict(list)
    ins: dict[Field, list[Json]] = defaultdict(list)
    outs: dict[Field, list[Json]] = defaultdict(list)
    for (src, dst), e in sorted(found.items(), key=lambda kv: (_fid(kv[0][0]), _fid(kv[0][1]))):
        first = e.transformations[0] if e.transformations else {}
        inputs[dst].append(
            {
                "namespace": src[0].namespace,
                "dataset": src[0].name,
                "datasetVersion": versions.get(src[0]),
                "field": src[1],
                "transformationDescription": first.get("description") or None,
                "transformationType": first.get("type"),
                "transformations": list(e.transformations),
                "job": {"namespace": e.job.namespace, "name": e.job.name},
            }
        )
        edge = {"origin": _fid(src), "destination": _fid(dst)}
        outs[src].append(edge)
        ins[dst].append(edge)
    result = []
    for f in sorted(fields, key=_fid):
        direct = [i for i in inputs[f] if is_direct(i["transformations"])]
        first = (direct or inputs[f] or [{}])[0]
        result.append(
            {
                "id": _fid(f),
                "type": "DATASET_FIELD",
                "data": {
                    "namespace": f[0].namespace,
                    "dataset": f[0].name,
                    "datasetVersion": versions.get(f[0]),
                    "field": f[1],
                    "fieldType": types.get(f),
                    "transformationDescription": first.get("transformationDescription"),
                    "transformationType": first.get("transformationType"),
                    "inputFields": inputs[f],
                },
                "inEdges": ins[f],
                "outEdges": outs[f],
            }
        )
    return result


def _fid(f: Field) -> str:
    return FieldId(f[0], f[1]).node_id()
