"""OpenLineage facets as JSON-ready dicts (``_producer`` and ``_schemaURL`` set), and event assembly.

Standard facets follow ``../shared/openlineage-spec`` (tests validate emitted events against
it). Where the spec has no facet, Headwater uses one custom run facet, ``headwater_audit``:
who ran it (``actor``), where (``host``, ``environment``), why (``purpose``) — documented in
``docs/pipelines.md``.
"""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState

from headwater import PRODUCER, __version__

SPEC = "https://openlineage.io/spec/facets"
AUDIT_SCHEMA = "https://github.com/headwater-lineage/headwater/blob/main/docs/pipelines.md#headwater_audit-run-facet"
Json = dict[str, Any]


def facet(schema: str, **fields: Any) -> Json:
    """A facet with ``_producer`` and ``_schemaURL`` (``schema`` is e.g. ``1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet``)."""
    url = schema if schema.startswith("http") else f"{SPEC}/{schema}"
    return {
        "_producer": PRODUCER,
        "_schemaURL": url,
        **{k: v for k, v in fields.items() if v is not None},
    }


def schema_facet(fields: list[dict[str, str]]) -> Json:
    return facet("1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet", fields=fields)


def datasource_facet(name: str, uri: str) -> Json:
    return facet(
        "1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet", name=name, uri=uri
    )


def version_facet(version: str) -> Json:
    return facet(
        "1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
        datasetVersion=version,
    )


def ownership_dataset_facet(owner: str) -> Json:
    return facet(
        "1-0-1/OwnershipDatasetFacet.json#/$defs/OwnershipDatasetFacet",
        owners=[{"name": owner, "type": "TEAM"}],
    )


def ownership_job_facet(owner: str) -> Json:
    return facet(
        "1-0-1/OwnershipJobFacet.json#/$defs/OwnershipJobFacet",
        owners=[{"name": owner, "type": "TEAM"}],
    )


def tags_facet(tags: list[Json]) -> Json:
    """OpenLineage ``tags`` dataset facet: ``[{"key", "value", "source", "field"?}]``."""
    return facet("1-0-0/TagsDatasetFacet.json#/$defs/TagsDatasetFacet", tags=tags)


def documentation_dataset_facet(text: str) -> Json:
    return facet(
        "1-1-0/DocumentationDatasetFacet.json#/$defs/DocumentationDatasetFacet", description=text
    )


def documentation_job_facet(text: str) -> Json:
    return facet("1-1-0/DocumentationJobFacet.json#/$defs/DocumentationJobFacet", description=text)


def lifecycle_facet(state: str) -> Json:
    return facet(
        "1-0-1/LifecycleStateChangeDatasetFacet.json#/$defs/LifecycleStateChangeDatasetFacet",
        lifecycleStateChange=state,
    )


def output_statistics_facet(rows: int, size: int, files: int) -> Json:
    return facet(
        "1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet",
        rowCount=rows,
        size=size,
        fileCount=files,
    )


def job_type_facet(
    integration: str = "HEADWATER", job_type: str = "QUERY", processing: str = "BATCH"
) -> Json:
    return facet(
        "2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
        processingType=processing,
        integration=integration,
        jobType=job_type,
    )


def sql_facet(query: str, dialect: str) -> Json:
    return facet("1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet", query=query, dialect=dialect)


def parent_facet(run_id: str, namespace: str, name: str) -> Json:
    return facet(
        "1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet",
        run={"runId": run_id},
        job={"namespace": namespace, "name": name},
    )


def nominal_time_facet(start: str) -> Json:
    return facet(
        "1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet", nominalStartTime=start
    )


def processing_engine_facet(name: str, version: str) -> Json:
    return facet(
        "1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet",
        name=name,
        version=version,
        openlineageAdapterVersion=__version__,
    )


def error_facet(message: str, stack: str | None = None) -> Json:
    return facet(
        "1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
        message=message,
        programmingLanguage="SQL",
        stackTrace=stack,
    )


def metrics_facet(metrics: Json) -> Json:
    """``dataQualityMetrics`` input facet from ``{"rowCount", "columnMetrics"}``."""
    return facet(
        "1-0-3/DataQualityMetricsInputDatasetFacet.json#/$defs/DataQualityMetricsInputDatasetFacet",
        **metrics,
    )


def assertions_facet(results: list[Json]) -> Json:
    return facet(
        "1-0-1/DataQualityAssertionsDatasetFacet.json#/$defs/DataQualityAssertionsDatasetFacet",
        assertions=results,
    )


def source_code_location_facet(path: Path | None) -> Json | None:
    """Git repository, commit and path of the pipeline file, when it lives in a git work tree."""
    if path is None:
        return None
    try:
        top = subprocess.run(
            ["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        commit = subprocess.run(
            ["git", "-C", top, "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        remote = subprocess.run(
            ["git", "-C", top, "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return facet(
            "1-0-1/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet",
            type="file",
            url=path.resolve().as_uri(),
        )
    rel = str(path.resolve().relative_to(Path(top).resolve()))
    return facet(
        "1-0-1/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet",
        type="git",
        url=remote or Path(top).as_uri(),
        repoUrl=remote or Path(top).as_uri(),
        path=rel,
        version=commit,
    )


def audit_facet(environment: str, purpose: str, actor: str | None = None) -> Json:
    """Who, where, why of a run (custom facet ``headwater_audit``)."""
    return facet(
        AUDIT_SCHEMA,
        actor=actor or os.environ.get("HEADWATER_ACTOR") or getpass.getuser(),
        host=socket.gethostname(),
        environment=environment,
        purpose=purpose,
    )


def table_property_facets(properties: dict[str, str], tag_source: str) -> Json:
    """``ownership``, ``documentation`` and PII ``tags`` facets from a table's properties.

    PII is declared on sources (``pii_data``, optionally ``pii_columns``): tags for those columns,
    or the whole table. Derived tables (with ``upstream_tables``) get none; their PII status comes
    from column lineage instead (``headwater compliance pii``).
    """
    facets: Json = {}
    if properties.get("owner"):
        facets["ownership"] = ownership_dataset_facet(properties["owner"])
    if properties.get("description"):
        facets["documentation"] = documentation_dataset_facet(properties["description"])
    if properties.get("pii_data") == "true" and not properties.get("upstream_tables"):
        columns = [c.strip() for c in properties.get("pii_columns", "").split(",") if c.strip()]
        tags = [
            {"key": "pii", "value": "true", "source": tag_source, **({"field": c} if c else {})}
            for c in columns or [""]
        ]
        facets["tags"] = tags_facet(tags)
    return facets


def now() -> str:
    """The current time as an ISO 8601 UTC string."""
    return datetime.now(UTC).isoformat()


def run_event(
    state: RunState,
    run_id: str,
    namespace: str,
    job: str,
    run_facets: Json,
    job_facets: Json,
    inputs: list[tuple[str, str, Json, Json]] = (),  # type: ignore[assignment]
    outputs: list[tuple[str, str, Json, Json]] = (),  # type: ignore[assignment]
) -> RunEvent:
    """An official-client RunEvent; datasets are ``(namespace, name, facets, input/output facets)``."""
    return RunEvent(
        eventType=state,
        eventTime=now(),
        run=Run(runId=run_id, facets=run_facets),
        job=Job(namespace=namespace, name=job, facets=job_facets),
        producer=PRODUCER,
        inputs=[InputDataset(ns, name, facets=f, inputFacets=io) for ns, name, f, io in inputs],
        outputs=[OutputDataset(ns, name, facets=f, outputFacets=io) for ns, name, f, io in outputs],
    )
