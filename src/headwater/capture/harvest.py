"""Iceberg <-> lineage: harvest lineage from table properties; export the event log as an Iceberg table.

Harvest reads every table's schema and properties (``upstream_tables``, ``owner``,
``description``, ``lineage_job``, as the reference scenario writes them) and emits, through the
OpenLineage client, a DatasetEvent per table and a JobEvent per table that names its upstream
tables, so tables Headwater did not produce still appear in the lineage graph.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    DatasetEvent,
    InputDataset,
    Job,
    JobEvent,
    OutputDataset,
    StaticDataset,
)
from pyiceberg.catalog import Catalog

from headwater import PRODUCER
from headwater.capture import facets as f
from headwater.capture.iceberg import commit_table, dataset_name, schema_fields, snapshot_of
from headwater.store import LineageStore


@dataclass(frozen=True)
class HarvestResult:
    """What a harvest found."""

    tables: int
    with_upstream: int
    skipped: int


def _facets(catalog: Catalog, identifier: str) -> tuple[str, str, dict[str, Any]]:
    table = catalog.load_table(identifier)
    ns, name, symlinks = dataset_name(catalog, identifier)
    props = dict(table.properties)
    facets: dict[str, Any] = {
        "symlinks": symlinks,
        "schema": f.schema_facet(schema_fields(catalog, identifier)),
    }
    snapshot = snapshot_of(table)
    if snapshot.snapshot_id:
        facets["version"] = f.version_facet(str(snapshot.snapshot_id))
    if props.get("owner"):
        facets["ownership"] = f.ownership_dataset_facet(props["owner"])
    if props.get("description"):
        facets["documentation"] = f.documentation_dataset_facet(props["description"])
    return ns, name, facets


def harvest(
    catalog: Catalog,
    client: OpenLineageClient,
    namespaces: Iterable[str] | None = None,
    include_headwater: bool = False,
) -> HarvestResult:
    """Record lineage from the catalog's table properties (see module docstring).

    Args:
        catalog: the Iceberg catalog.
        client: where events go.
        namespaces: Iceberg namespaces to read (all when None).
        include_headwater: also harvest tables written by Headwater pipelines (their lineage is
            already captured at run time, with column lineage, so they are skipped by default).
    """
    tables = with_upstream = skipped = 0
    for namespace in namespaces or [".".join(n) for n in catalog.list_namespaces()]:
        for ident in catalog.list_tables(namespace):
            identifier = ".".join(ident)
            props = dict(catalog.load_table(identifier).properties)
            if (
                not include_headwater
                and props.get("created_by", "").startswith("headwater")
                and props.get("lineage_run_id")
            ):
                skipped += 1
                continue
            tables += 1
            ns, name, facets = _facets(catalog, identifier)
            client.emit(
                DatasetEvent(
                    eventTime=f.now(),
                    producer=PRODUCER,
                    dataset=StaticDataset(ns, name, facets=facets),
                )
            )
            upstream = [u.strip() for u in props.get("upstream_tables", "").split(",") if u.strip()]
            if not upstream:
                continue
            with_upstream += 1
            inputs = []
            for up in upstream:
                up_id = up if "." in up else f"{namespace}.{up}"
                try:
                    up_ns, up_name, up_facets = _facets(catalog, up_id)
                except Exception:
                    up_ns, up_name, up_facets = f"iceberg://{catalog.name}", up_id, {}
                inputs.append(InputDataset(up_ns, up_name, facets=up_facets))
            job_name = props.get("lineage_job") or f"iceberg_harvest.{identifier}"
            job_facets: dict[str, Any] = {
                "jobType": f.job_type_facet(job_type="ICEBERG_PROPERTIES")
            }
            if props.get("transformation") or props.get("business_logic"):
                job_facets["documentation"] = f.documentation_job_facet(
                    props.get("business_logic") or props["transformation"]
                )
            if props.get("owner"):
                job_facets["ownership"] = f.ownership_job_facet(props["owner"])
            job_ns, _, job_short = (
                job_name.rpartition(".") if props.get("lineage_job") else ("iceberg", "", job_name)
            )
            client.emit(
                JobEvent(
                    eventTime=f.now(),
                    producer=PRODUCER,
                    job=Job(namespace=job_ns or "iceberg", name=job_short, facets=job_facets),
                    inputs=inputs,
                    outputs=[OutputDataset(ns, name, facets=facets)],
                )
            )
    return HarvestResult(tables, with_upstream, skipped)


EVENTS_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("job_namespace", pa.string()),
        ("job_name", pa.string()),
        ("event_type", pa.string()),
        ("event_time", pa.timestamp("us", tz="UTC")),
        ("inputs", pa.string()),
        ("outputs", pa.string()),
        ("column_lineage", pa.string()),
        ("description", pa.string()),
        ("execution_date", pa.string()),
        ("producer", pa.string()),
        ("event", pa.string()),
    ]
)


def export_events(store: LineageStore, catalog: Catalog, identifier: str) -> int:
    """Write every stored RunEvent to the Iceberg table ``identifier`` (replacing its data).

    Columns: run_id, job_namespace, job_name, event_type, event_time, inputs and outputs (JSON arrays of
    ``namespace:name``), column_lineage (JSON of the outputs' columnLineage facets), description (job
    documentation), execution_date (nominal start), producer, and the full event as JSON.
    """
    from headwater.model.events import parse_time

    rows: dict[str, list[Any]] = {field.name: [] for field in EVENTS_SCHEMA}
    for raw in store.export_events():
        event = json.loads(raw)
        if "run" not in event:
            continue
        run_facets = event["run"].get("facets") or {}
        job_facets = event["job"].get("facets") or {}
        rows["run_id"].append(event["run"]["runId"])
        rows["job_namespace"].append(event["job"]["namespace"])
        rows["job_name"].append(event["job"]["name"])
        rows["event_type"].append(event.get("eventType"))
        rows["event_time"].append(parse_time(event["eventTime"], "$.eventTime", []))
        rows["inputs"].append(
            json.dumps([f"{d['namespace']}:{d['name']}" for d in event.get("inputs") or []])
        )
        rows["outputs"].append(
            json.dumps([f"{d['namespace']}:{d['name']}" for d in event.get("outputs") or []])
        )
        lineage = {
            f"{d['namespace']}:{d['name']}": (d.get("facets") or {}).get("columnLineage")
            for d in event.get("outputs") or []
            if (d.get("facets") or {}).get("columnLineage")
        }
        rows["column_lineage"].append(json.dumps(lineage) if lineage else None)
        rows["description"].append((job_facets.get("documentation") or {}).get("description"))
        rows["execution_date"].append((run_facets.get("nominalTime") or {}).get("nominalStartTime"))
        rows["producer"].append(event.get("producer"))
        rows["event"].append(raw.decode("utf-8"))
    table = pa.table(rows, schema=EVENTS_SCHEMA)
    commit_table(
        catalog,
        identifier,
        table,
        {"description": "Headwater lineage event log", "created_by": "headwater export"},
    )
    return table.num_rows
