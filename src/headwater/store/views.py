"""Row -> Marquez 0.51 JSON shapes. Pure functions over query rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from headwater.model.nodes import DatasetId, JobId

Json = dict[str, Any]


def iso(value: datetime | None) -> str | None:
    """A datetime as Marquez writes it: ISO 8601 UTC with ``Z``."""
    if value is None:
        return None
    if value.tzinfo is not None:  # naive values are UTC already (SQLite)
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


def namespace(row: Any) -> Json:
    """Marquez ``Namespace``."""
    return {
        "name": row.name,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "ownerName": row.owner_name or "anonymous",
        "description": row.description,
        "isHidden": False,
    }


def fields_with_tags(
    fields: Iterable[Mapping[str, Any]], field_tags: Mapping[str, list[str]]
) -> list[Json]:
    """Schema fields in Marquez's shape (name, type, tags, description)."""
    return [
        {
            "name": f["name"],
            "type": f.get("type"),
            "tags": sorted(field_tags.get(f["name"], [])),
            "description": f.get("description"),
        }
        for f in fields
    ]


def dataset(row: Any, tags: Mapping[str, list[str]] | None = None) -> Json:
    """Marquez ``Dataset``; ``tags`` maps field name ('' = dataset) to tag names."""
    tags = tags or {}
    facets = row.facets or {}
    symlinks = (facets.get("symlinks") or {}).get("identifiers") or []
    return {
        "id": {"namespace": row.namespace, "name": row.name},
        "type": row.type,
        "name": row.name,
        "physicalName": row.name,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "namespace": row.namespace,
        "sourceName": row.source_name or "default",
        "fields": fields_with_tags(row.fields or [], tags),
        "tags": sorted(tags.get("", [])),
        "lastModifiedAt": iso(row.updated_at),
        "lastLifecycleState": row.lifecycle_state,
        "description": row.description,
        "currentVersion": row.current_version,
        "columnLineage": None,
        "facets": facets,
        "symlinks": symlinks,
        "deleted": bool(row.is_deleted),
    }


def dataset_version(row: Any, ds: DatasetId, tags: Mapping[str, list[str]] | None = None) -> Json:
    """Marquez ``DatasetVersion``."""
    facets = row.facets or {}
    return {
        "id": {"namespace": ds.namespace, "name": ds.name, "version": row.version},
        "type": "DB_TABLE",
        "name": ds.name,
        "physicalName": ds.name,
        "createdAt": iso(row.created_at),
        "version": row.version,
        "namespace": ds.namespace,
        "sourceName": (facets.get("dataSource") or {}).get("name") or "default",
        "fields": fields_with_tags(row.fields or [], tags or {}),
        "tags": sorted((tags or {}).get("", [])),
        "lifecycleState": row.lifecycle_state,
        "description": (facets.get("documentation") or {}).get("description"),
        "createdByRun": None,
        "facets": facets,
        "datasetVersionFacet": row.version_facet,
        "runId": row.run_id,
    }


def run(
    row: Any, job: JobId, version: str | None, facets: Json, inputs: list[Json], outputs: list[Json]
) -> Json:
    """Marquez ``Run``."""
    duration = None
    if row.started_at is not None and row.ended_at is not None:
        duration = int((row.ended_at - row.started_at).total_seconds() * 1000)
    return {
        "id": row.run_id,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "nominalStartTime": iso(row.nominal_start_time),
        "nominalEndTime": iso(row.nominal_end_time),
        "state": row.state,
        "startedAt": iso(row.started_at),
        "endedAt": iso(row.ended_at),
        "durationMs": duration,
        "args": {},
        "jobVersion": {"namespace": job.namespace, "name": job.name, "version": version},
        "inputDatasetVersions": inputs,
        "outputDatasetVersions": outputs,
        "context": {"sql": row.sql} if row.sql else {},
        "facets": facets,
        "parentRunId": row.parent_run_id,
    }


def job(
    row: Any,
    version: str | None,
    inputs: list[DatasetId],
    outputs: list[DatasetId],
    latest_run: Json | None,
) -> Json:
    """Marquez ``Job``."""
    name: str = row.name
    return {
        "id": {"namespace": row.namespace, "name": name},
        "type": row.type,
        "name": name,
        "simpleName": name.rsplit(".", 1)[-1],
        "parentJobName": name.rsplit(".", 1)[0] if "." in name else None,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "namespace": row.namespace,
        "inputs": [{"namespace": d.namespace, "name": d.name} for d in inputs],
        "outputs": [{"namespace": d.namespace, "name": d.name} for d in outputs],
        "location": row.location,
        "description": row.description,
        "latestRun": latest_run,
        "latestRuns": [latest_run] if latest_run else [],
        "facets": row.facets or {},
        "currentVersion": version,
        "labels": [],
        "tags": [],
    }


def job_version(
    row: Any,
    job_id: JobId,
    inputs: list[DatasetId],
    outputs: list[DatasetId],
    latest_run: Json | None,
) -> Json:
    """Marquez ``JobVersion``."""
    return {
        "id": {"namespace": job_id.namespace, "name": job_id.name, "version": row.version},
        "name": job_id.name,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.created_at),
        "location": row.location,
        "version": row.version,
        "namespace": job_id.namespace,
        "inputs": [{"namespace": d.namespace, "name": d.name} for d in inputs],
        "outputs": [{"namespace": d.namespace, "name": d.name} for d in outputs],
        "latestRun": latest_run,
        "facets": {"sql": {"query": row.sql}} if row.sql else {},
    }
