"""Render lineage graphs as rich tables, Graphviz DOT or Mermaid."""

from __future__ import annotations

from typing import Any

from rich.table import Table

Json = dict[str, Any]


def _label(node: Json) -> str:
    data = node.get("data") or {}
    if node["type"] == "DATASET_FIELD":
        return f"{data.get('dataset')}.{data.get('field')}"
    return str(data.get("name") or node["id"])


def edges(graph: list[Json]) -> list[tuple[str, str]]:
    """Distinct ``(origin, destination)`` node ids of a Marquez graph."""
    seen: dict[tuple[str, str], None] = {}
    for node in graph:
        for e in node.get("outEdges", []) + node.get("inEdges", []):
            seen[(e["origin"], e["destination"])] = None
    return sorted(seen)


def lineage_table(graph: list[Json], title: str) -> Table:
    """Table-level lineage: each job with its inputs and outputs, then lone datasets."""
    table = Table(title=title, title_justify="left")
    table.add_column("job", style="bold cyan", overflow="fold")
    table.add_column("inputs", overflow="fold")
    table.add_column("outputs", overflow="fold")
    table.add_column("latest run")
    by_id = {n["id"]: n for n in graph}
    for node in (n for n in graph if n["type"] == "JOB"):
        ins = [_label(by_id[e["origin"]]) for e in node["inEdges"] if e["origin"] in by_id]
        outs = [
            _label(by_id[e["destination"]]) for e in node["outEdges"] if e["destination"] in by_id
        ]
        latest = (node["data"].get("latestRun") or {}).get("state") or "-"
        table.add_row(
            f"{node['data'].get('namespace')}:{_label(node)}",
            "\n".join(ins),
            "\n".join(outs),
            latest,
        )
    return table


def column_table(graph: list[Json], title: str) -> Table:
    """Column lineage: each derived field with its input fields, transformation and expression."""
    table = Table(title=title, title_justify="left")
    table.add_column("column", style="bold cyan", overflow="fold")
    table.add_column("from", overflow="fold")
    table.add_column("transformation", overflow="fold")
    table.add_column("expression", overflow="fold")
    for node in graph:
        data = node["data"]
        for inp in data.get("inputFields") or []:
            kinds = ", ".join(
                f"{t.get('type')}/{t.get('subtype')}" for t in inp.get("transformations") or []
            ) or str(inp.get("transformationType") or "")
            desc = next(
                (
                    t.get("description")
                    for t in inp.get("transformations") or []
                    if t.get("description")
                ),
                "",
            )
            table.add_row(
                f"{data['dataset']}.{data['field']}",
                f"{inp['dataset']}.{inp['field']}",
                kinds,
                desc or "",
                end_section=False,
            )
    return table


def _dot_id(node_id: str) -> str:
    return '"' + node_id.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(graph: list[Json]) -> str:
    """Graphviz DOT, left to right; datasets as boxes, jobs as ellipses."""
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for node in graph:
        shape = "ellipse" if node["type"] == "JOB" else "box"
        label = _label(node).replace('"', '\\"')
        lines.append(f'  {_dot_id(node["id"])} [label="{label}", shape={shape}];')
    for origin, dest in edges(graph):
        lines.append(f"  {_dot_id(origin)} -> {_dot_id(dest)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(graph: list[Json]) -> str:
    """Mermaid ``flowchart LR``; datasets as rectangles, jobs as rounded boxes."""
    ids = {n["id"]: f"n{i}" for i, n in enumerate(graph)}
    lines = ["flowchart LR"]
    for node in graph:
        label = _label(node).replace('"', "#quot;")
        shape = f'("{label}")' if node["type"] == "JOB" else f'["{label}"]'
        lines.append(f"  {ids[node['id']]}{shape}")
    for origin, dest in edges(graph):
        if origin in ids and dest in ids:
            lines.append(f"  {ids[origin]} --> {ids[dest]}")
    return "\n".join(lines) + "\n"
