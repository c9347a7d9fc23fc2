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


@dataclass(frozen=True)
class ProcessingActivity:
    """One job that reads or writes personal data (a row of a record of processing activities)."""

    job: str
    purpose: str | None
    owners: tuple[str, ...]
    pii_inputs: tuple[str, ...]
    pii_outputs: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    last_run: str | None
    last_state: str | None

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.__dict__.items()}


def processing_activities(store: LineageStore) -> list[ProcessingActivity]:
    """Jobs whose current version reads or writes a PII column (see :func:`pii_flow`)."""
    columns, _ = pii_flow(store)
    pii_by_dataset: dict[DatasetId, set[str]] = {}
    for c in columns:
        pii_by_dataset.setdefault(c.dataset, set()).add(c.field)
    datasets = list(pii_by_dataset)
    touching = {
        te.job: te
        for te in store.jobs_touching(datasets, "in") + store.jobs_touching(datasets, "out")
    }
    jobs = store.jobs_by_id(list(touching))
    rows = []
    for job_id, edges in sorted(touching.items()):
        data = jobs.get(job_id, {})
        owners = tuple(
            sorted(
                str(o.get("name"))
                for o in ((data.get("facets") or {}).get("ownership") or {}).get("owners") or []
            )
        )
        latest = data.get("latestRun") or {}

        def pii(ds_list: tuple[DatasetId, ...]) -> tuple[str, ...]:
            return tuple(
                f"{_short(d.name)}.{f}" for d in ds_list for f in sorted(pii_by_dataset.get(d, ()))
            )

        rows.append(
            ProcessingActivity(
                job=f"{job_id.namespace}:{job_id.name}",
                purpose=data.get("description"),
                owners=owners,
                pii_inputs=pii(edges.inputs),
                pii_outputs=pii(edges.outputs),
                inputs=tuple(_short(d.name) for d in edges.inputs),
                outputs=tuple(_short(d.name) for d in edges.outputs),
                last_run=latest.get("endedAt") or latest.get("startedAt"),
                last_state=latest.get("state"),
            )
        )
    return rows


def report_markdown(activities: list[ProcessingActivity]) -> str:
    """The record of processing activities as Markdown."""
    lines = [
        "# Record of processing activities",
        "",
        "| job | purpose | owners | personal data read | personal data written | inputs | outputs | last run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for a in activities:
        cells = [
            a.job,
            a.purpose or "",
            ", ".join(a.owners),
            ", ".join(a.pii_inputs),
            ", ".join(a.pii_outputs),
            ", ".join(a.inputs),
            ", ".join(a.outputs),
            f"{a.last_run or ''} {a.last_state or ''}".strip(),
        ]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def report_csv(activities: list[ProcessingActivity]) -> str:
    """The record of processing activities as CSV."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "job",
            "purpose",
            "owners",
            "pii_inputs",
            "pii_outputs",
            "inputs",
            "outputs",
            "last_run",
            "last_state",
        ]
    )
    for a in activities:
        writer.writerow(
            [
                a.job,
                a.purpose or "",
                ";".join(a.owners),
                ";".join(a.pii_inputs),
                ";".join(a.pii_outputs),
                ";".join(a.inputs),
                ";".join(a.outputs),
                a.last_run or "",
                a.last_state or "",
            ]
        )
    return buffer.getvalue()
