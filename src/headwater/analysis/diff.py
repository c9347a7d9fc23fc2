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
from headwater.store.base import LineageStore, NotFound


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


def _refs(items: list[dict[str, Any]]) -> set[str]:
    return {f"{d['namespace']}:{d['name']}" for d in items}


def job_version_diff(
    store: LineageStore, job: JobId, old: str | None = None, new: str | None = None
) -> dict[str, Any]:
    """What changed between two versions of a job: its SQL as a unified diff, inputs and outputs.

    Args:
        store: the lineage store.
        job: the job.
        old: the earlier version (None: the one before ``new``).
        new: the later version (None: the job's current version).

    Returns:
        ``{"job", "from", "to", "sql", "inputsAdded", "inputsRemoved", "outputsAdded",
        "outputsRemoved"}``; ``from``/``to`` are ``{"version", "createdAt"}`` (``from`` is None
        when ``new`` is the first version), ``sql`` the unified diff ("" when equal).

    Raises:
        NotFound: unknown job or version.
    """
    if new is None:
        new = store.get_job(job)["currentVersion"]
        if new is None:
            msg = f"job {job.namespace}:{job.name} has no version yet"
            raise NotFound(msg)
    after = store.get_job_version(job, new)
    if old is None:
        versions, _ = store.list_job_versions(job, limit=100_000)
        ids = [v["version"] for v in versions]  # newest first
        at = ids.index(new)
        old = ids[at + 1] if at + 1 < len(ids) else None
    before = store.get_job_version(job, old) if old is not None else None

    def sql(v: dict[str, Any] | None) -> str:
        return ((v or {}).get("facets", {}).get("sql") or {}).get("query") or ""

    lines = difflib.unified_diff(
        sql(before).splitlines(),
        sql(after).splitlines(),
        f"{job.name}@{old[:8] if old else 'none'}",
        f"{job.name}@{new[:8]}",
        lineterm="",
    )
    ins0, ins1 = _refs(before["inputs"]) if before else set(), _refs(after["inputs"])
    outs0, outs1 = _refs(before["outputs"]) if before else set(), _refs(after["outputs"])
    return {
        "job": {"namespace": job.namespace, "name": job.name},
        "from": {"version": old, "createdAt": before["createdAt"]} if before else None,
        "to": {"version": new, "createdAt": after["createdAt"]},
        "sql": "\n".join(lines),
        "inputsAdded": sorted(ins1 - ins0),
        "inputsRemoved": sorted(ins0 - ins1),
        "outputsAdded": sorted(outs1 - outs0),
        "outputsRemoved": sorted(outs0 - outs1),
    }
