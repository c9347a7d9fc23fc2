"""Small builders of OpenLineage events for tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

PRODUCER = "https://github.com/headwater-lineage/headwater/tests"
SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
T0 = datetime(2025, 1, 17, 12, 0, tzinfo=UTC)


def ts(seconds: float = 0) -> str:
    """An ISO time ``seconds`` after T0."""
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def dataset(
    name: str, namespace: str = "warehouse", fields: list[str] | None = None, **facets: Any
) -> dict[str, Any]:
    """A dataset with an optional schema facet."""
    all_facets = dict(facets)
    if fields is not None:
        all_facets["schema"] = {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
            "fields": [{"name": f, "type": "string"} for f in fields],
        }
    return {"namespace": namespace, "name": name, "facets": all_facets}


def checked_dataset(
    name: str, results: list[tuple[str, bool]], column: str = "id", namespace: str = "warehouse"
) -> dict[str, Any]:
    """An input dataset carrying a dataQualityAssertions facet: ``(assertion, success)`` each."""
    ds = dataset(name, namespace)
    ds["inputFacets"] = {
        "dataQualityAssertions": {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DataQualityAssertionsDatasetFacet.json",
            "assertions": [{"assertion": a, "column": column, "success": ok} for a, ok in results],
        }
    }
    return ds


def column_lineage(
    mapping: dict[str, list[tuple[str, str, str, str]]],
    dataset_level: list[tuple[str, str, str]] = (),
) -> dict[str, Any]:  # type: ignore[assignment]
    """A columnLineage facet: ``{out_field: [(in_dataset, in_field, type, subtype)]}``; in_dataset is ``ns:name``."""

    def field_ref(ds: str, f: str, typ: str, sub: str) -> dict[str, Any]:
        ns, name = ds.split(":", 1)
        return {
            "namespace": ns,
            "name": name,
            "field": f,
            "transformations": [
                {"type": typ, "subtype": sub, "description": f"{sub}({f})", "masking": False}
            ],
        }

    return {
        "_producer": PRODUCER,
        "_schemaURL": "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json",
        "fields": {
            out: {"inputFields": [field_ref(*i) for i in ins]} for out, ins in mapping.items()
        },
        "dataset": [field_ref(ds, f, "INDIRECT", sub) for ds, f, sub in dataset_level],
    }


def run_event(
    event_type: str = "COMPLETE",
    job: str = "etl",
    run_id: str | None = None,
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    at: float = 0,
    namespace: str = "pipelines",
    sql: str | None = None,
    run_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A RunEvent."""
    job_facets: dict[str, Any] = {}
    if sql:
        job_facets["sql"] = {"_producer": PRODUCER, "_schemaURL": "x", "query": sql}
    return {
        "eventType": event_type,
        "eventTime": ts(at),
        "producer": PRODUCER,
        "schemaURL": SCHEMA,
        "run": {"runId": run_id or str(uuid.uuid4()), "facets": run_facets or {}},
        "job": {"namespace": namespace, "name": job, "facets": job_facets},
        "inputs": inputs or [],
        "outputs": outputs or [],
    }
