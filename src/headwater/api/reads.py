"""Marquez 0.51-compatible reads under ``/api/v1``.

Same paths, parameters and response shapes as Marquez, so ``marquez-python``
and the Marquez web UI work. Deliberate differences (documented in
``docs/api.md``): lineage traversal is directed (``direction`` extension),
``totalCount`` is the true count, ``sort`` is honoured, bad input is a 4xx.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool

from headwater.api.errors import BadParameter
from headwater.graph import column_lineage, lineage, upstream_runs
from headwater.model.events import parse_time
from headwater.model.nodes import DatasetId, JobId, parse_node_id
from headwater.store.base import SEARCH_MATCHES, LineageStore, SearchMatch

router = APIRouter(prefix="/api/v1", tags=["read"])
Json = dict[str, Any]
Limit = Annotated[int, Query(ge=0, le=10_000)]
Offset = Annotated[int, Query(ge=0)]
Depth = Annotated[int, Query(ge=0, le=100)]


_JSON = TypeAdapter(Json)  # what FastAPI serializes a handler's ``Json`` with


def json_response(content: Json) -> Response:
    """``content`` as FastAPI would send it for a handler returning ``Json``, serialized by orjson.

    For a graph of tens of thousands of nodes FastAPI's own path (validate the dict, then
    serialize it with pydantic) took about three times as long as orjson, which writes the same
    bytes (compared on random JSON values, floats from random bit patterns included). What orjson
    refuses (integers beyond 64 bits) goes through pydantic as before.
    """
    try:
        body = orjson.dumps(content)
    except TypeError:
        body = _JSON.dump_json(_JSON.validate_python(content))
    return Response(body, media_type="application/json")


def name(segment: str) -> str:
    """Decode a path segment that may hold an encoded ``/`` (see ``EncodedSlashes``)."""
    return segment.replace("%2F", "/").replace("%2f", "/")


def _store(request: Request) -> LineageStore:
    store: LineageStore = request.app.state.store
    return store


async def _call(request: Request, fn: Any, *args: Any) -> Any:
    """Run a store method (given by name) or a graph function over the store in the thread pool."""
    store = _store(request)
    target = getattr(store, fn) if isinstance(fn, str) else (lambda *a: fn(store, *a))
    return await run_in_threadpool(target, *args)


@router.get("/health", summary="Liveness")
async def health() -> Json:
    """``{"status": "ok"}`` when the server is up (never needs an API key)."""
    return {"status": "ok"}


@router.get("/namespaces")
async def namespaces(request: Request, limit: Limit = 100, offset: Offset = 0) -> Json:
    items, total = await _call(request, "list_namespaces", limit, offset)
    return {"namespaces": items, "totalCount": total}


@router.get("/namespaces/{namespace}")
async def namespace(request: Request, namespace: str) -> Json:
    return await _call(request, "get_namespace", name(namespace))


@router.get("/namespaces/{namespace}/datasets")
async def datasets(
    request: Request, namespace: str, limit: Limit = 100, offset: Offset = 0
) -> Json:
    items, total = await _call(request, "list_datasets", name(namespace), limit, offset)
    return {"datasets": items, "totalCount": total}


@router.get("/namespaces/{namespace}/datasets/{dataset}")
async def dataset(request: Request, namespace: str, dataset: str) -> Json:
    return await _call(request, "get_dataset", DatasetId(name(namespace), name(dataset)))


@router.get("/namespaces/{namespace}/datasets/{dataset}/versions")
async def dataset_versions(
    request: Request, namespace: str, dataset: str, limit: Limit = 100, offset: Offset = 0
) -> Json:
    items, total = await _call(
        request, "list_dataset_versions", DatasetId(name(namespace), name(dataset)), limit, offset
    )
    return {"versions": items, "totalCount": total}


@router.get("/namespaces/{namespace}/datasets/{dataset}/versions/{version}")
async def dataset_version(request: Request, namespace: str, dataset: str, version: str) -> Json:
    ds = DatasetId(name(namespace), name(dataset))
    return await _call(request, "get_dataset_version", ds, version)


@router.post("/namespaces/{namespace}/datasets/{dataset}/tags/{tag}")
async def tag_dataset(request: Request, namespace: str, dataset: str, tag: str) -> Json:
    ds = DatasetId(name(namespace), name(dataset))
    return await _call(request, "tag", tag, ds)


@router.post("/namespaces/{namespace}/datasets/{dataset}/fields/{field}/tags/{tag}")
async def tag_field(request: Request, namespace: str, dataset: str, field: str, tag: str) -> Json:
    ds = DatasetId(name(namespace), name(dataset))
    return await _call(request, "tag", tag, ds, name(field))


@router.get("/namespaces/{namespace}/jobs")
async def jobs_in_namespace(
    request: Request, namespace: str, limit: Limit = 100, offset: Offset = 0
) -> Json:
    items, total = await _call(request, "list_jobs", name(namespace), limit, offset)
    return {"jobs": items, "totalCount": total}


@router.get("/jobs")
async def jobs(request: Request, limit: Limit = 100, offset: Offset = 0) -> Json:
    items, total = await _call(request, "list_jobs", None, limit, offset)
    return {"jobs": items, "totalCount": total}


@router.get("/namespaces/{namespace}/jobs/{job}")
async def job(request: Request, namespace: str, job: str) -> Json:
    return await _call(request, "get_job", JobId(name(namespace), name(job)))


@router.get("/namespaces/{namespace}/jobs/{job}/versions")
async def job_versions(
    request: Request, namespace: str, job: str, limit: Limit = 100, offset: Offset = 0
) -> Json:
    items, total = await _call(
        request, "list_job_versions", JobId(name(namespace), name(job)), limit, offset
    )
    return {"versions": items, "totalCount": total}


@router.get("/namespaces/{namespace}/jobs/{job}/versions/{version}")
async def job_version(request: Request, namespace: str, job: str, version: str) -> Json:
    return await _call(request, "get_job_version", JobId(name(namespace), name(job)), version)


@router.get("/namespaces/{namespace}/jobs/{job}/runs")
async def runs(
    request: Request, namespace: str, job: str, limit: Limit = 100, offset: Offset = 0
) -> Json:
    items, total = await _call(
        request, "list_runs", JobId(name(namespace), name(job)), limit, offset
    )
    return {"runs": items, "totalCount": total}


@router.get("/runs/{run_id}")
@router.get("/jobs/runs/{run_id}")
async def run(request: Request, run_id: str) -> Json:
    return await _call(request, "get_run", run_id)


@router.get("/jobs/runs/{run_id}/facets")
async def run_facets(request: Request, run_id: str, type: Literal["run", "job"] = "run") -> Json:
    return await _call(request, "get_run_facets", run_id, type)


@router.get("/lineage", summary="Table-level lineage graph", response_model=Json)
async def get_lineage(
    request: Request,
    nodeId: str,
    depth: Depth = 20,
    direction: Literal["upstream", "downstream", "both"] = "both",
    asOf: str | None = None,
    lean: bool = False,
) -> Response:
    """Datasets and jobs around ``nodeId``; ``direction``, ``asOf`` and ``lean`` (nodes without
    facets, schema and latest run, for large graphs) are Headwater extensions."""
    node, when = parse_node_id(nodeId), query_time(asOf, "asOf")
    return await _call(
        request, lambda s: json_response(lineage(s, node, depth, direction, when, lean))
    )


@router.get("/column-lineage", summary="Column-level lineage graph", response_model=Json)
async def get_column_lineage(
    request: Request,
    nodeId: str,
    depth: Depth = 20,
    withDownstream: bool = False,
    asOf: str | None = None,
) -> Response:
    """Fields feeding ``nodeId`` (a datasetField or every field of a dataset), optionally those it feeds."""
    node, when = parse_node_id(nodeId), query_time(asOf, "asOf")
    return await _call(
        request, lambda s: json_response(column_lineage(s, node, depth, withDownstream, when))
    )


@router.get("/runlineage/upstream", summary="Upstream runs and dataset versions of a run")
async def get_run_lineage(request: Request, runId: str, depth: Depth = 20) -> Json:
    return await _call(request, upstream_runs, runId, depth)


def query_time(value: str | None, param: str) -> datetime | None:
    """A time query parameter (ISO 8601); a bad one is a 422 naming ``param``."""
    if value is None:
        return None
    from headwater.model.events import EventValidationError

    try:
        return parse_time(value, param, [])
    except EventValidationError as exc:
        raise EventValidationError(param, exc.reason) from None


@router.get("/events/lineage", summary="Raw lineage events")
@router.get("/events", include_in_schema=False)  # the path marquez-python 0.50 calls
async def events(
    request: Request,
    before: str | None = None,
    after: str | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
    sortDirection: Literal["asc", "desc"] = "desc",
) -> Json:
    items, total = await _call(
        request,
        "list_events",
        query_time(before, "before"),
        query_time(after, "after"),
        limit,
        offset,
        sortDirection == "desc",
    )
    return {"events": items, "totalCount": total}


def search_places(value: str | None) -> list[SearchMatch] | None:
    """The ``match`` parameter of search: comma-separated places (or ``all``); a bad one is a 400."""
    if value is None:
        return None
    wanted = [w.strip().lower() for w in value.split(",") if w.strip()]
    if wanted == ["all"]:
        return list(SEARCH_MATCHES)
    unknown = [w for w in wanted if w not in SEARCH_MATCHES]
    if unknown or not wanted:
        msg = (
            f"invalid parameter match: {', '.join(map(repr, unknown)) or 'nothing given'}; "
            f"use all or a comma-separated list of {', '.join(SEARCH_MATCHES)}"
        )
        raise BadParameter("match", msg)
    return [m for m in SEARCH_MATCHES if m in wanted]


@router.get("/search")
async def search(
    request: Request,
    q: Annotated[str, Query(min_length=1)],
    filter: Literal["DATASET", "JOB", "FIELD", "dataset", "job", "field"] | None = None,
    sort: Literal["NAME", "UPDATE_AT", "RELEVANCE", "name", "update_at", "relevance"] = "NAME",
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    namespace: str | None = None,
    match: str | None = None,
) -> Json:
    """Marquez's search by name; ``match`` (extension) also looks in columns, tags, owners, SQL.

    ``match`` is ``all`` or a comma-separated list of ``name``, ``namespace``, ``column``, ``tag``,
    ``owner``, ``sql``; with it, results carry ``matched`` and ``detail`` (and FIELD results
    ``dataset`` and ``field``). ``filter=FIELD`` and ``sort=RELEVANCE`` are extensions too.
    """
    kind = filter.upper() if filter else None
    places = search_places(match)
    if kind == "FIELD" and places is None:
        places = ["column", "tag"]
    return await _call(request, "search", q, kind, sort.upper(), limit, namespace, places)


@router.get("/tags")
async def tags(request: Request) -> Json:
    return {"tags": await _call(request, "list_tags")}
