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


RANDOM_FIELDS = ["a", "b", "c"]
RANDOM_KINDS = [
    [("DIRECT", "IDENTITY")],
    [("DIRECT", "AGGREGATION")],
    [("INDIRECT", "JOIN")],
    [("INDIRECT", "FILTER"), ("DIRECT", "TRANSFORMATION")],  # DIRECT, but not first
]


def owner(team: str) -> dict[str, Any]:
    """An ownership facet naming one team."""
    return {"_producer": PRODUCER, "_schemaURL": "x", "owners": [{"name": team, "type": "TEAM"}]}


def random_column_event(
    rng: Any,
    job: int,
    at: float,
    datasets: list[str],
    namespaces: tuple[str, ...] = ("pipelines",),
    input_schemas: bool = False,
) -> dict[str, Any]:
    """A RunEvent of a random column graph, for walks checked against a reference.

    Its output is one of ``datasets`` (its inputs may include it: a cycle), each output field
    fed by fields of one to three inputs through a random transformation list (DIRECT,
    INDIRECT, or DIRECT but not first); ownership on some outputs and jobs.

    Args:
        rng: a ``random.Random``.
        job: the job's number (``job{job}``).
        at: seconds after T0.
        datasets: the dataset names to draw from.
        namespaces: the job's namespace is drawn from these (when more than one).
        input_schemas: give the inputs a schema of :data:`RANDOM_FIELDS` too.
    """
    out = rng.choice(datasets)
    inputs = rng.sample(datasets, rng.randint(1, 3))
    fields = {}
    for field in rng.sample(RANDOM_FIELDS, rng.randint(1, 3)):
        refs = [
            {
                "namespace": "warehouse",
                "name": source,
                "field": in_field,
                "transformations": [
                    {"type": t, "subtype": s, "description": f"{s}({in_field})"}
                    for t, s in rng.choice(RANDOM_KINDS)
                ],
            }
            for source in inputs
            for in_field in rng.sample(RANDOM_FIELDS, rng.randint(1, 2))
        ]
        fields[field] = {"inputFields": refs}
    facets: dict[str, Any] = {
        "columnLineage": {"_producer": PRODUCER, "_schemaURL": "x", "fields": fields}
    }
    if rng.random() < 0.3:
        facets["ownership"] = owner(f"team-{rng.randrange(3)}")
    event = run_event(
        job=f"job{job}",
        namespace=rng.choice(namespaces) if len(namespaces) > 1 else namespaces[0],
        inputs=[dataset(n, fields=RANDOM_FIELDS if input_schemas else None) for n in inputs],
        outputs=[dataset(out, fields=RANDOM_FIELDS, **facets)],
        at=at,
    )
    if rng.random() < 0.3:
        event["job"]["facets"]["ownership"] = owner(f"team-{rng.randrange(3)}")
    return event
