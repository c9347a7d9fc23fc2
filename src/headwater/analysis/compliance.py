"""Where PII flows: tagged columns and everything derived from them, following column lineage.

Origins: fields tagged ``pii`` in the store (``headwater tag``, Marquez's field-tag API), datasets
tagged ``pii`` (every column), and datasets whose ``tags`` facet carries ``pii=true`` (as Headwater
pipelines send for Iceberg tables with ``pii_data=true``; a tag with ``field`` marks that column
only). PII then flows along DIRECT column lineage; a masking transformation (a hash, a redaction,
a count) stops it, and the stop is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headwater.model.nodes import DatasetId
from headwater.store.base import LineageStore

PII = "pii"


@dataclass(frozen=True)
class PiiColumn:
    """A column that holds PII, where it came from, and how."""

    dataset: DatasetId
    field: str
    origin: str
    path: str
    tagged: bool

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "namespace": self.dataset.namespace,
            "dataset": self.dataset.name,
            "field": self.field,
            "origin": self.origin,
            "path": self.path,
            "tagged": self.tagged,
        }


def _short(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1]


def _origins(store: LineageStore) -> list[tuple[DatasetId, str]]:
    found: list[tuple[DatasetId, str]] = []
    for ns in store.list_namespaces(100_000)[0]:
        for ds in store.list_datasets(ns["name"], 1_000_000)[0]:
            dataset = DatasetId(ds["namespace"], ds["name"])
            fields = [f["name"] for f in ds.get("fields") or []]
            tagged_fields = [
                f["name"]
                for f in ds.get("fields") or []
                if PII in {t.lower() for t in f.get("tags") or []}
            ]
            facet_tags = ((ds.get("facets") or {}).get("tags") or {}).get("tags") or []
            pii_tags = [
                t
                for t in facet_tags
                if str(t.get("key", "")).lower() == PII
                and str(t.get("value", "true")).lower() != "false"
            ]
            facet_fields = [t["field"] for t in pii_tags if t.get("field")]
            whole = PII in {t.lower() for t in ds.get("tags") or []} or any(
                not t.get("field") for t in pii_tags
            )
            columns = fields if whole else sorted({*tagged_fields, *facet_fields})
            found.extend((dataset, c) for c in columns)
    return found


def pii_flow(store: LineageStore, depth: int = 20) -> tuple[list[PiiColumn], list[str]]:
    """Every column holding PII with the path it came by, and where masking stopped it."""
    origins = _origins(store)
    result: dict[tuple[DatasetId, str], PiiColumn] = {}
    for dataset, field in origins:
        label = f"{_short(dataset.name)}.{field}"
        result[(dataset, field)] = PiiColumn(dataset, field, label, label, True)
    stops: list[str] = []
    frontier = list(result)
    for _ in range(depth):
        if not frontier:
            break
        nxt = []
        for edge in store.column_edges(frontier, "downstream"):
            if not edge.out_field:
                continue
            direct = [t for t in edge.transformations if t.get("type") == "DIRECT"]
            if not direct:
                continue
            src = result[(edge.in_dataset, edge.in_field)]
            hop = f"{_short(edge.out_dataset.name)}.{edge.out_field}"
            if all(t.get("masking") for t in direct):
                stops.append(
                    f"{src.path} -> {hop}: masked ({direct[0].get('description') or direct[0].get('subtype')})"
                )
                continue
            key = (edge.out_dataset, edge.out_field)
            if key not in result:
                result[key] = PiiColumn(
                    edge.out_dataset, edge.out_field, src.origin, f"{src.path} -> {hop}", False
                )
                nxt.append(key)
        frontier = nxt
    ordered = sorted(result.values(), key=lambda c: (not c.tagged, c.dataset, c.field))
    return ordered, sorted(set(stops))
