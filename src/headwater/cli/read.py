"""Read commands: ``lineage``, ``datasets``, ``jobs``, ``runs``.

Each reads the local store (``--db``) or a server (``--url``) through
:mod:`headwater.client`, prints a rich table by default and JSON with
``--format json``.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from headwater.analysis.resolve import resolve_node
from headwater.cli.common import (
    ApiKeyOption,
    DbOption,
    UrlOption,
    console,
    friendly_errors,
    print_json,
)
from headwater.cli.render import column_table, lineage_table, to_dot, to_mermaid
from headwater.client import LocalReader, connect
from headwater.model.nodes import JobId, parse_node_id


class GraphFormat(StrEnum):
    table = "table"
    json = "json"
    dot = "dot"
    mermaid = "mermaid"


class ListFormat(StrEnum):
    table = "table"
    json = "json"


FormatOption = Annotated[ListFormat, typer.Option("--format", "-f", help="Output format.")]


@friendly_errors
def lineage_cmd(
    node: Annotated[
        str,
        typer.Argument(
            help="dataset:NS:NAME, job:NS:NAME, datasetField:NS:NAME:FIELD or a name (local store)"
        ),
    ],
    upstream: Annotated[bool, typer.Option("--upstream", help="Only what feeds the node.")] = False,
    downstream: Annotated[
        bool, typer.Option("--downstream", help="Only what the node feeds.")
    ] = False,
    depth: Annotated[int, typer.Option(min=0, max=100, help="Jobs (or column hops) away.")] = 20,
    columns: Annotated[bool, typer.Option("--columns", help="Column-level lineage.")] = False,
    fmt: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="Output format.")
    ] = GraphFormat.table,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="ISO time: the graph as the job versions then defined it."),
    ] = None,
    db: DbOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """Show the lineage graph around a dataset, job or column."""
    if upstream and downstream:
        upstream = downstream = False
    reader = connect(url, db, api_key)
    if isinstance(reader, LocalReader) and not node.startswith(
        ("dataset:", "job:", "datasetField:")
    ):
        node = resolve_node(reader.store, node).node_id()  # a name such as orders or orders.amount
    parse_node_id(node)  # fail early and clearly on a malformed id
    if columns or node.startswith("datasetField:"):
        graph = reader.column_lineage(node, depth, not upstream, as_of)["graph"]
    else:
        direction = "upstream" if upstream else "downstream" if downstream else "both"
        # dot and mermaid draw names only: skip reading every node's details
        lean = fmt in (GraphFormat.dot, GraphFormat.mermaid)
        graph = reader.lineage(node, depth, direction, as_of, lean)["graph"]
    if fmt is GraphFormat.json:
        print_json({"graph": graph})
    elif fmt is GraphFormat.dot:
        sys.stdout.write(to_dot(graph))
    elif fmt is GraphFormat.mermaid:
        sys.stdout.write(to_mermaid(graph))
    elif columns or node.startswith("datasetField:"):
        console.print(column_table(graph, f"column lineage of {node}"))
    else:
        console.print(lineage_table(graph, f"lineage of {node}"))


@friendly_errors
def datasets_cmd(
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Only this namespace.")
    ] = None,
    fmt: FormatOption = ListFormat.table,
    db: DbOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List datasets."""
    items = connect(url, db, api_key).datasets(namespace)
    if fmt is ListFormat.json:
        print_json(items)
        return
    table = Table(title=f"{len(items)} datasets", title_justify="left")
    for col in ("namespace", "name", "fields", "tags", "updated"):
        table.add_column(col)
    for d in items:
        table.add_row(
            d["namespace"],
            d["name"],
            str(len(d.get("fields") or [])),
            ", ".join(d.get("tags") or []),
            d.get("updatedAt") or "",
        )
    console.print(table)


@friendly_errors
def jobs_cmd(
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Only this namespace.")
    ] = None,
    fmt: FormatOption = ListFormat.table,
    db: DbOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List jobs with their latest run."""
    items = connect(url, db, api_key).jobs(namespace)
    if fmt is ListFormat.json:
        print_json(items)
        return
    table = Table(title=f"{len(items)} jobs", title_justify="left")
    for col in ("namespace", "name", "inputs", "outputs", "latest run", "updated"):
        table.add_column(col)
    for j in items:
        latest = j.get("latestRun") or {}
        table.add_row(
            j["namespace"],
            j["name"],
            str(len(j.get("inputs") or [])),
            str(len(j.get("outputs") or [])),
            latest.get("state") or "-",
            j.get("updatedAt") or "",
        )
    console.print(table)


@friendly_errors
def runs_cmd(
    job: Annotated[str, typer.Argument(help="job:NS:NAME, or NS:NAME")],
    limit: Annotated[int, typer.Option(min=1, help="How many runs, newest first.")] = 20,
    fmt: FormatOption = ListFormat.table,
    db: DbOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
) -> None:
    """List a job's runs, newest first."""
    node = parse_node_id(job if job.startswith("job:") else f"job:{job}")
    assert isinstance(node, JobId)
    items = connect(url, db, api_key).runs(node, limit)
    if fmt is ListFormat.json:
        print_json(items)
        return
    table = Table(title=f"runs of {node.namespace}:{node.name}", title_justify="left")
    for col in ("run id", "state", "started", "ended", "duration ms", "inputs", "outputs"):
        table.add_column(col)
    for r in items:
        table.add_row(
            r["id"],
            r["state"],
            r.get("startedAt") or "",
            r.get("endedAt") or "",
            str(r.get("durationMs") or ""),
            str(len(r.get("inputDatasetVersions") or [])),
            str(len(r.get("outputDatasetVersions") or [])),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the read commands."""
    app.command("lineage")(lineage_cmd)
    app.command("datasets")(datasets_cmd)
    app.command("jobs")(jobs_cmd)
    app.command("runs")(runs_cmd)
