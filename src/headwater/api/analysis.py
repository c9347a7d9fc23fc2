"""Headwater's own analysis endpoints, under ``/api/v1/headwater`` (not part of Marquez's API)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from headwater.analysis import impact, resolve_node
from headwater.api.reads import query_time

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
