"""The reference scenario's six validation checks, against the catalog and the lineage store."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import duckdb
from pyiceberg.catalog import Catalog

from headwater.capture.iceberg import dataset_name, read_table
from headwater.graph import lineage
from headwater.model.nodes import DatasetId, JobId
from headwater.pipelines.runner import PipelineResult
from headwater.store import LineageStore, NotFound


@dataclass(frozen=True)
class Validation:
    """One validation's outcome."""

    name: str
    passed: bool
    reason: str


def validate(result: PipelineResult, catalog: Catalog, store: LineageStore) -> list[Validation]:
    """Run the six checks of the reference scenario (ARCHITECTURE.md, step 7)."""
    p = result.pipeline
    db = p.database
    src = {
        k: f"{db}.{p.parameters[k]}" for k in ("customers_table", "orders_table", "products_table")
    }
    staging, target = (
        f"{db}.{p.parameters['staging_table']}",
        f"{db}.{p.parameters['target_table']}",
    )
    out: list[Validation] = []

    missing = [
        t
        for t in src.values()
        if not {"source_system", "owner"} <= set(catalog.load_table(t).properties)
    ]
    out.append(
        Validation(
            "sources carry source_system and owner",
            not missing,
            f"missing on {', '.join(missing)}" if missing else "all 3 sources",
        )
    )

    upstream = set(catalog.load_table(staging).properties.get("upstream_tables", "").split(","))
    need = {src["orders_table"], src["customers_table"]}
    out.append(
        Validation(
            "staging references its upstream tables",
            need <= upstream,
            f"upstream_tables = {', '.join(sorted(upstream))}",
        )
    )

    original = set(catalog.load_table(target).properties.get("upstream_original", "").split(","))
    out.append(
        Validation(
            "target references all original sources",
            set(src.values()) <= original,
            f"upstream_original = {', '.join(sorted(original))}",
        )
    )

    runs = 0
    for step in p.steps:
        with contextlib.suppress(NotFound):
            runs += store.list_runs(JobId(p.namespace, step.job), limit=1)[1]
    out.append(
        Validation(
            "at least two lineage runs are recorded", runs >= 2, f"{runs} step runs recorded"
        )
    )

    ns, name, _ = dataset_name(catalog, src["customers_table"])
    graph = lineage(store, DatasetId(ns, name), depth=10, direction="downstream")["graph"]
    _, target_name, _ = dataset_name(catalog, target)
    dependents = [n for n in graph if n["type"] == "DATASET" and n["data"]["name"] != name]
    found = any(n["data"]["name"] == target_name for n in dependents)
    out.append(
        Validation(
            "impact analysis finds dependents",
            found,
            f"{len(dependents)} datasets depend on {src['customers_table']}",
        )
    )

    con = duckdb.connect()
    con.register("target", read_table(catalog, target))
    con.register("staging", read_table(catalog, staging))
    orphans = con.execute(
        "SELECT COUNT(*) FROM target WHERE customer_id NOT IN (SELECT customer_id FROM staging)"
    ).fetchone()
    count = int(orphans[0]) if orphans else 0
    out.append(
        Validation(
            "no orphaned customer ids between target and staging",
            count == 0,
            f"{count} orphaned customer ids",
        )
    )
    con.close()
    return out
