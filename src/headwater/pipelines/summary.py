"""The readable end-of-run summary of ``headwater demo`` / ``headwater run`` (rich renderables)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
from pyiceberg.catalog import Catalog
from rich.console import RenderableType
from rich.table import Table
from rich.tree import Tree

from headwater.analysis.trace import trace
from headwater.capture.iceberg import IcebergReader, dataset_name, read_table
from headwater.graph import column_lineage, lineage
from headwater.model.nodes import DatasetId
from headwater.model.transformations import is_direct
from headwater.pipelines.runner import PipelineResult
from headwater.pipelines.validate import Validation
from headwater.store import LineageStore


def _short(name: str) -> str:
    return name.rstrip("/").rsplit("/", 1)[-1]


def tables(result: PipelineResult) -> Table:
    """Tables written, with rows and snapshot ids."""
    table = Table(title="Tables", title_justify="left")
    for col in ("table", "rows", "snapshot", "written by"):
        table.add_column(col, overflow="fold")
    for name, rows in result.sources.items():
        table.add_row(name, f"{rows:,}", "", "source (generated)")
    for step in result.steps:
        table.add_row(step.target, f"{step.rows:,}", str(step.snapshot.snapshot_id), step.job)
    return table


def lineage_tree(store: LineageStore, dataset: DatasetId, identifier: str) -> Tree:
    """Upstream table lineage of a table as a tree: table <- job <- inputs ..."""
    ns, name = dataset.namespace, dataset.name
    graph = {
        n["id"]: n
        for n in lineage(store, DatasetId(ns, name), depth=20, direction="upstream")["graph"]
    }
    root = Tree(f"[bold]{identifier}[/]")

    def grow(node_id: str, branch: Tree, seen: frozenset[str]) -> None:
        for edge in graph[node_id]["inEdges"]:
            origin = graph.get(edge["origin"])
            if origin is None or origin["id"] in seen:
                continue
            label = (
                f"[cyan]job {origin['data']['name']}[/]"
                if origin["type"] == "JOB"
                else _short(origin["data"]["name"])
            )
            grow(origin["id"], branch.add(label), seen | {origin["id"]})

    grow(DatasetId(ns, name).node_id(), root, frozenset())
    return root


def column_table(store: LineageStore, dataset: DatasetId, identifier: str) -> Table:
    """Each column of a table with its direct sources, transformation and expression."""
    ns, name = dataset.namespace, dataset.name
    graph = column_lineage(store, DatasetId(ns, name), depth=1)["graph"]
    table = Table(title=f"Column lineage of {identifier}", title_justify="left")
    for col in ("column", "sources", "transformation", "expression"):
        table.add_column(col, overflow="fold")
    for node in graph:
        data = node["data"]
        if data["dataset"] != name:
            continue
        direct = [
            (i, t)
            for i in data["inputFields"]
            for t in i["transformations"]
            if t["type"] == "DIRECT"
        ]
        if not direct:
            table.add_row(data["field"], "-", "computed", "")
            continue
        sources = sorted({f"{_short(i['dataset'])}.{i['field']}" for i, _ in direct})
        subtypes = sorted({t["subtype"] for _, t in direct})
        expression = next((t["description"] for _, t in direct if t.get("description")), "")
        table.add_row(data["field"], "\n".join(sources), ", ".join(subtypes), expression)
    return table


def dependents(store: LineageStore, dataset: DatasetId, identifier: str) -> Table:
    """Everything downstream of a table (impact), with the jobs in between."""
    ns, name = dataset.namespace, dataset.name
    graph = lineage(store, DatasetId(ns, name), depth=20, direction="downstream")["graph"]
    table = Table(title=f"What depends on {identifier}", title_justify="left")
    table.add_column("dataset")
    table.add_column("through job")
    for node in graph:
        if node["type"] == "DATASET" and node["data"]["name"] != name:
            jobs = [e["origin"].split(":", 2)[-1] for e in node["inEdges"]]
            table.add_row(_short(node["data"]["name"]), ", ".join(jobs))
    return table


def negative_profit(
    result: PipelineResult, catalog: Catalog, store: LineageStore
) -> Iterator[RenderableType]:
    """Customers with negative profit, and the upstream datasets their numbers come from."""
    p = result.pipeline
    target = f"{p.database}.{p.parameters['target_table']}"
    con = duckdb.connect()
    con.register("summary", read_table(catalog, target))
    rows = con.execute(
        "SELECT customer_id, customer_name, total_revenue, total_cost, total_profit FROM summary "
        "WHERE total_profit < 0 ORDER BY total_profit LIMIT 10"
    ).fetchall()
    count = con.execute("SELECT COUNT(*) FROM summary WHERE total_profit < 0").fetchone()
    con.close()
    table = Table(
        title=f"Customers with negative total_profit ({count[0] if count else 0})",
        title_justify="left",
    )
    for col in ("customer_id", "customer", "revenue", "cost", "profit"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r[0]), str(r[1]), f"{r[2]:,.2f}", f"{r[3]:,.2f}", f"{r[4]:,.2f}")
    yield table
    ns, name, _ = dataset_name(catalog, target)
    graph = {n["id"]: n for n in column_lineage(store, DatasetId(ns, name), depth=10)["graph"]}

    def direct_inputs(node_id: str) -> list[str]:
        data = graph[node_id]["data"]
        return [
            f"datasetField:{i['namespace']}:{i['dataset']}:{i['field']}"
            for i in data["inputFields"]
            if is_direct(i["transformations"])
        ]

    start = f"datasetField:{ns}:{name}:total_profit"
    tree = Tree("[bold]total_profit[/] is computed (DIRECT lineage) from")

    def grow(node_id: str, branch: Tree, seen: frozenset[str]) -> None:
        for child in direct_inputs(node_id):
            if child in graph and child not in seen:
                data = graph[child]["data"]
                grow(
                    child, branch.add(f"{_short(data['dataset'])}.{data['field']}"), seen | {child}
                )

    if start in graph:
        grow(start, tree, frozenset({start}))
    yield tree
    report = trace(store, IcebergReader(catalog), DatasetId(ns, name), "total_profit < 0")
    hops = Table(
        title="Row-level trace of those customers (from the snapshots each run read)",
        title_justify="left",
    )
    for col in ("dataset", "contributing rows", "of", "via job"):
        hops.add_column(col, overflow="fold")
    for hop in report.hops:
        hops.add_row(hop.dataset, str(hop.rows), str(hop.total), hop.job or "")
    yield hops
    for cause in report.root_causes:
        yield f"[bold red]{cause}[/]"


def validations(results: list[Validation]) -> Table:
    """Validation checks with passed/failed and the reason."""
    table = Table(title="Validation", title_justify="left")
    for col in ("check", "result", "detail"):
        table.add_column(col, overflow="fold")
    for v in results:
        table.add_row(v.name, "[green]passed[/]" if v.passed else "[bold red]FAILED[/]", v.reason)
    return table


def checks(result: PipelineResult) -> Table:
    """Quality checks of every step."""
    table = Table(title="Quality checks", title_justify="left")
    for col in ("table", "check", "result", "detail"):
        table.add_column(col, overflow="fold")
    for step in result.steps:
        for c in step.checks:
            table.add_row(
                step.target,
                c.check,
                "[green]passed[/]" if c.success else "[bold red]FAILED[/]",
                c.detail,
            )
    return table
