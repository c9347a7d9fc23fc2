"""Emit data-quality results as an OpenLineage run: its input carries ``dataQualityAssertions``.

This is how Great Expectations, dbt tests and Soda report checks through OpenLineage too, so
Headwater's own checks (pipeline steps and ``headwater check``) land in the same place.
"""

from __future__ import annotations

from typing import Any, Protocol

from openlineage.client.event_v2 import RunState
from openlineage.client.uuid import generate_new_uuid

from headwater.capture import facets as f


class CheckOutcome(Protocol):
    """What a check result must offer."""

    check: str
    success: bool
    column: str | None


class Emitter(Protocol):
    """Anything with ``emit(event)`` (the OpenLineage client)."""

    def emit(self, event: Any) -> None: ...


def emit_check_run(
    client: Emitter,
    namespace: str,
    job: str,
    dataset: tuple[str, str, dict[str, Any]],
    results: list[Any],
    parent: tuple[str, str, str] | None = None,
    metrics: dict[str, Any] | None = None,
) -> str:
    """Emit START then COMPLETE (all passed) or FAIL for one batch of check results; returns the run id.

    Args:
        client: the OpenLineage client.
        namespace: the job namespace.
        job: the check job's name.
        dataset: ``(namespace, name, facets)`` of the checked dataset.
        results: objects with ``check``, ``success`` and ``column``.
        parent: ``(run id, job namespace, job name)`` of the run that wrote the dataset, if any.
        metrics: ``{"rowCount", "columnMetrics"}`` measured on the checked rows, sent as the
            ``dataQualityMetrics`` input facet.
    """
    run_id = str(generate_new_uuid())
    assertions = [
        {"assertion": r.check, "success": r.success, **({"column": r.column} if r.column else {})}
        for r in results
    ]
    ns, name, dataset_facets = dataset
    input_facets: dict[str, Any] = {"dataQualityAssertions": f.assertions_facet(assertions)}
    if metrics:
        input_facets["dataQualityMetrics"] = f.metrics_facet(metrics)
    inputs = [(ns, name, dataset_facets, input_facets)]
    run_facets: dict[str, Any] = {"parent": f.parent_facet(*parent)} if parent else {}
    job_facets = {"jobType": f.job_type_facet(job_type="QUALITY_CHECK")}
    client.emit(f.run_event(RunState.START, run_id, namespace, job, run_facets, job_facets, inputs))
    failed = [r.check for r in results if not r.success]
    if failed:
        run_facets = {
            **run_facets,
            "errorMessage": f.error_facet(f"failed checks on {name}: {', '.join(failed)}"),
        }
    state = RunState.FAIL if failed else RunState.COMPLETE
    client.emit(f.run_event(state, run_id, namespace, job, run_facets, job_facets, inputs))
    return run_id
