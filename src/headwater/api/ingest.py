"""``POST /api/v1/lineage`` and ``POST /api/v1/lineage/batch``.

The body is read raw (not through a pydantic model) so that malformed JSON is a
400, an invalid event a 422 naming the JSON path, and the stored bytes are what
the producer sent. ``Content-Encoding: gzip`` is accepted.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from headwater.api.errors import error
from headwater.gcpause import pausing_gc
from headwater.model.events import Decoded, EventParseError, EventValidationError, decode_batch
from headwater.store.base import BatchItemResult, LineageStore

router = APIRouter(prefix="/api/v1", tags=["ingest"])
MAX_BODY = 64 * 1024 * 1024
_EVENT_ITEM = (dict, Decoded)  # a batch item that is an object (decoded, with or without bytes)


async def _body(request: Request) -> bytes:
    body = await request.body()
    encoding = (request.headers.get("content-encoding") or "").lower()
    if encoding in ("gzip", "x-gzip"):
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as exc:
            raise EventParseError(f"body is not valid gzip: {exc}") from None
    elif encoding == "deflate":
        try:
            body = zlib.decompress(body)
        except zlib.error as exc:
            raise EventParseError(f"body is not valid deflate: {exc}") from None
    elif encoding not in ("", "identity"):
        raise EventParseError(f"unsupported Content-Encoding {encoding!r}; use gzip or none")
    if len(body) > MAX_BODY:
        raise EventParseError(f"body larger than {MAX_BODY} bytes")
    return body


@router.post("/lineage", status_code=201, summary="Ingest one OpenLineage event")
async def post_lineage(request: Request) -> Response:
    """Store one RunEvent, DatasetEvent or JobEvent. 201 (also for a duplicate, which changes nothing)."""
    body = await _body(request)
    result = await request.app.state.store.ingest_async(body)  # on the loop when it can
    payload = {
        "eventId": result.event_id,
        "duplicate": result.duplicate,
        "warnings": list(result.warnings),
    }
    return JSONResponse(payload, status_code=201)


@router.post("/lineage/batch", summary="Ingest an array of OpenLineage events")
async def post_batch(request: Request) -> Response:
    """Store each event in its own transaction; answer ``{received, successful, failed, failedEvents}``."""
    body = await _body(request)
    try:
        items, indices, results = await run_in_threadpool(
            _ingest_batch, request.app.state.store, body
        )
    except EventValidationError as exc:
        return error(422, f"{exc.path}: {exc.reason}", path=exc.path, reason="must be an array")
    failed: list[dict[str, Any]] = [
        {"index": i, "path": f"$[{i}]", "reason": "an event must be a JSON object"}
        for i, item in enumerate(items)
        if not isinstance(item, _EVENT_ITEM)
    ]
    for r in results:
        if r.error is not None:
            index = indices[r.index]
            if isinstance(r.error, EventValidationError):
                failed.append(
                    {
                        "index": index,
                        "path": f"$[{index}]{r.error.path[1:]}",
                        "reason": r.error.reason,
                    }
                )
            else:
                failed.append({"index": index, "path": f"$[{index}]", "reason": str(r.error)})
    failed.sort(key=lambda f: f["index"])
    summary = {
        "received": len(items),
        "successful": len(items) - len(failed),
        "failed": len(failed),
        "failedEvents": failed,
    }
    return JSONResponse(summary, status_code=200 if not failed else 207)


@pausing_gc  # the decoded array: many objects, freed by reference counting
def _ingest_batch(
    store: LineageStore, body: bytes
) -> tuple[list[Any], list[int], list[BatchItemResult]]:
    """Decode a batch body and ingest its objects, in one worker thread.

    Returns:
        The items, the indices of those that are objects, and their results in that order.

    Raises:
        EventValidationError: the body is not a JSON array.
    """
    items = decode_batch(body)
    indices = [i for i, item in enumerate(items) if isinstance(item, _EVENT_ITEM)]
    return items, indices, store.ingest_many([items[i] for i in indices])
