"""Headwater's own analysis endpoints, under ``/api/v1/headwater`` (not part of Marquez's API)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from headwater.analysis import impact, resolve_node
from headwater.api.errors import BadParameter
from headwater.api.reads import Limit, Offset, name, query_time
from headwater.store.base import NotFound

Json = dict[str, Any]

router = APIRouter(prefix="/api/v1/headwater", tags=["analysis"])


@router.get("/impact", summary="What depends on a dataset or column, and what a change breaks")
async def get_impact(
    request: Request,
    nodeId: str,
    depth: Annotated[int, Query(ge=1, le=100)] = 20,
    change: Literal["drop", "type", "rename"] | None = None,
    asOf: str | None = None,
) -> dict[str, Any]:
    """``nodeId`` may be a node id or a name such as ``products_source.cost``; ``asOf`` (ISO time)
    answers on the graph as it was then."""
    store = request.app.state.store
    when = query_time(asOf, "asOf")

    def run() -> dict[str, Any]:
        return impact(store, resolve_node(store, nodeId), depth, change, when).to_json()

    return await run_in_threadpool(run)


@router.get("/trace", summary="Trace bad rows upstream to the source rows and the root cause")
async def get_trace(
    request: Request,
    dataset: str,
    where: str,
    asOf: str | None = None,
) -> Any:
    """``dataset`` is a node id or a name; ``where`` a SQL condition such as ``total_profit < 0``.

    Reads data through the server's catalog (``headwater serve --catalog-dir``); 409 without one.
    """
    from headwater.analysis.trace import TraceError, trace
    from headwater.api.errors import error
    from headwater.capture.iceberg import CatalogError
    from headwater.model.nodes import DatasetId

    reader = request.app.state.reader
    if reader is None:
        return error(
            409,
            "this server has no data catalog to read rows from; start it with "
            "headwater serve --catalog-dir DIR",
        )
    store = request.app.state.store
    node = await run_in_threadpool(resolve_node, store, dataset)
    if not isinstance(node, DatasetId):
        return error(400, "trace takes a dataset; put the column in where", param="dataset")
    try:
        when = query_time(asOf, "asOf")
        report = await run_in_threadpool(trace, store, reader, node, where, when)
    except TraceError as exc:
        return error(400, str(exc), param="where")
    except CatalogError as exc:
        return error(409, str(exc))
    return report.to_json()


@router.get("/audit", summary="Who ran what, when, where, why, on which data")
async def get_audit(
    request: Request,
    dataset: str | None = None,
    job: str | None = None,
    actor: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """Runs (oldest first) with actor, host, environment, purpose, engine, SQL, inputs and outputs."""
    from headwater.analysis.audit import audit_trail

    window = (query_time(since, "since"), query_time(until, "until"))
    store = request.app.state.store
    entries = await run_in_threadpool(audit_trail, store, dataset, job, actor, *window)
    return {"runs": [e.to_json() for e in entries], "totalCount": len(entries)}


@router.get("/diff", summary="What changed in the lineage between two times")
async def get_diff(
    request: Request,
    start: str = Query(alias="from"),
    end: str | None = Query(default=None, alias="to"),
) -> dict[str, Any]:
    """Edges and column lineage added or removed, SQL changes, schema changes between ``from`` and ``to``."""
    from headwater.analysis.diff import diff

    store = request.app.state.store
    return (
        await run_in_threadpool(diff, store, query_time(start, "from"), query_time(end, "to"))
    ).to_json()


@router.get("/audit/verify", summary="Verify the event log's hash chain")
async def get_audit_verify(request: Request) -> dict[str, Any]:
    """Recompute every event's content and chain hash: ``{"ok", "checked", "firstBadId", "reason", "pruned"}``."""
    from headwater.store.audit import verify_chain

    report = await run_in_threadpool(verify_chain, request.app.state.store)
    return {
        "ok": report.ok,
        "checked": report.checked,
        "firstBadId": report.first_bad_id,
        "reason": report.reason,
        "pruned": report.pruned,
    }


@router.get("/pii", summary="Where personal data flows")
async def get_pii(
    request: Request, depth: Annotated[int, Query(ge=1, le=100)] = 20
) -> dict[str, Any]:
    """Columns holding PII (tagged, or derived from tagged columns by DIRECT lineage) and where masking stopped it."""
    from headwater.analysis.compliance import pii_flow

    columns, stops = await run_in_threadpool(pii_flow, request.app.state.store, depth)
    return {"columns": [c.to_json() for c in columns], "stops": stops, "totalCount": len(columns)}


@router.get("/runs/{run_id}/children", summary="Runs whose parent run is this one")
async def get_child_runs(
    request: Request, run_id: str, limit: Limit = 100, offset: Offset = 0
) -> Json:
    """Child runs (their ``parent`` run facet names ``run_id``), oldest first, as run summaries."""
    store = request.app.state.store
    runs, total = await run_in_threadpool(store.child_runs, run_id, limit, offset)
    return {"runs": runs, "totalCount": total}


@router.get(
    "/datasets/{namespace}/{dataset}/quality", summary="Every data-quality result on a dataset"
)
async def get_quality_history(
    request: Request, namespace: str, dataset: str, limit: Limit = 100, offset: Offset = 0
) -> Json:
    """Assertion results (from ``dataQualityAssertions`` facets), newest first."""
    from headwater.model.nodes import DatasetId

    store = request.app.state.store
    ds = DatasetId(name(namespace), name(dataset))
    results, total = await run_in_threadpool(store.quality_history, ds, limit, offset)
    return {"results": results, "totalCount": total}


@router.get(
    "/jobs/{namespace}/{job}/versions/diff", summary="What changed between two job versions"
)
async def get_job_version_diff(
    request: Request,
    namespace: str,
    job: str,
    old: str | None = Query(default=None, alias="from"),
    new: str | None = Query(default=None, alias="to"),
) -> Json:
    """The SQL as a unified diff and the inputs and outputs added and removed from ``from`` to ``to``.

    ``to`` defaults to the current version, ``from`` to the version before ``to``.
    """
    from headwater.analysis.diff import job_version_diff
    from headwater.model.nodes import JobId

    store = request.app.state.store
    target = JobId(name(namespace), name(job))

    def run() -> Json:
        store.get_job(target)  # an unknown job is a plain 404
        for param, version in (("from", old), ("to", new)):
            if version is not None:
                try:
                    store.get_job_version(target, version)
                except NotFound as exc:
                    raise BadParameter(param, str(exc), 404) from None
        return job_version_diff(store, target, old, new)

    return await run_in_threadpool(run)
