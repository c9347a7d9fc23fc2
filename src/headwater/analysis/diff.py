"""Lineage between two times: edges and columns added or removed, SQL changes, schema changes.

Each side is the whole graph as the job versions current at that time defined it (see
:meth:`LineageStore.lineage_at`), so a diff shows what changed in how data flows, not just which
runs happened.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from headwater.model.nodes import DatasetId, JobId
from headwater.store.base import LineageStore


def _short(ds: DatasetId) -> str:
    return ds.name.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class LineageDiff:
    """What changed between ``start`` and ``end``."""

    start: str | None
    end: str | None
    edges_added: list[str] = field(default_factory=list)
    edges_removed: list[str] = field(default_factory=list)
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    sql_changes: dict[str, str] = field(default_factory=dict)
    schema_changes: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Nothing changed."""
        return not any(
            (
                self.edges_added,
                self.edges_removed,
                self.columns_added,
                self.columns_removed,
                self.sql_changes,
                self.schema_changes,
            )
        )

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return dict(self.__dict__)


def _table_edges(
    store: LineageStore, at: datetime | None
) -> tuple[set[str], set[str], dict[JobId, str | None]]:
    tables, columns, sql = store.lineage_at(at)
    edges = {f"{_short(d)} -> {te.job.name}" for te in tables for d in te.inputs}
    edges |= {f"{te.job.name} -> {_short(d)}" for te in tables for d in te.outputs}
    cols = {
        f"{_short(c.in_dataset)}.{c.in_field} -> {_short(c.out_dataset)}.{c.out_field} ({c.job.name})"
        for c in columns
        if c.out_field
    }
    return edges, cols, sql


def diff(store: LineageStore, start: datetime | None, end: datetime | None = None) -> LineageDiff:
    """What changed in the lineage graph from ``start`` to ``end`` (None: now)."""
    e1, c1, sql1 = _table_edges(store, start)
    e2, c2, sql2 = _table_edges(store, end)
    result = LineageDiff(
        start.isoformat() if start else None,
        end.isoformat() if end else None,
        sorted(e2 - e1),
        sorted(e1 - e2),
        sorted(c2 - c1),
        sorted(c1 - c2),
    )
    for job in sorted(set(sql1) | set(sql2)):
        before, after = sql1.get(job) or "", sql2.get(job) or ""
        if before != after:
            lines = difflib.unified_diff(
                before.splitlines(),
                after.splitlines(),
                f"{job.name}@start",
                f"{job.name}@end",
                lineterm="",
            )
            result.sql_changes[f"{job.namespace}:{job.name}"] = "\n".join(lines)
    s1, s2 = store.schemas_at(start), store.schemas_at(end)
    for ds in sorted(set(s1) | set(s2)):
        old, new = s1.get(ds, []), s2.get(ds, [])
        added, removed = [c for c in new if c not in old], [c for c in old if c not in new]
        if (added or removed) and old:
            result.schema_changes[_short(ds)] = {"added": added, "removed": removed}
    return result
