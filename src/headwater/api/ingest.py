"""``POST /api/v1/lineage`` and ``POST /api/v1/lineage/batch``.

The body is read raw (not through a pydantic model) so that malformed JSON is a
400, an invalid event a 422 naming the JSON path, and the stored bytes are what
the producer sent. ``Content-Encoding: gzip`` (or ``deflate``) is accepted, and
decompressed only up to :data:`MAX_BODY`.

A single event is the request producers send most, and the one whose answer they
wait for: :class:`SingleEvents` answers it ahead of FastAPI's routing, whose
per-request work (route matching, dependency solving, exception wrapping) cost
about as much as validating the event. The route below answers the same way, for
an app that includes :data:`router` without the middleware, and documents the
endpoint in the OpenAPI schema.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from headwater.api.errors import error
from headwater.gcpause import pausing_gc
from headwater.model.events import Decoded, EventParseError, EventValidationError, decode_batch
from headwater.store.base import BatchItemResult, LineageStore

router = APIRouter(prefix="/api/v1", tags=["ingest"])
MAX_BODY = 64 * 1024 * 1024
SINGLE_PATH = "/api/v1/lineage"
_ENCODING = "content-encoding"
_EVENT_ITEM = (dict, Decoded)  # a batch item that is an object (decoded, with or without bytes)
_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}  # zlib's window bits: gzip / zlib header


def decoded_body(body: bytes, encoding: str | None) -> bytes:
    """The request body after its ``Content-Encoding``, at most :data:`MAX_BODY` bytes.

    Raises:
        EventParseError: an unknown encoding, a body that is not valid gzip or deflate, or
            one larger than :data:`MAX_BODY` (before or after decompression).
    """
    if len(body) > MAX_BODY:
        raise EventParseError(f"body larger than {MAX_BODY} bytes")
    encoding = (encoding or "").strip().lower()
    if encoding in ("", "identity"):
        return body
    wbits = _WBITS.get(encoding)
    if wbits is None:
        raise EventParseError(f"unsupported Content-Encoding {encoding!r}; use gzip or none")
    name = "gzip" if wbits == 31 else "deflate"
    out: list[bytes] = []
    size, rest = 0, body
    try:
        while True:  # a gzip body may hold several members, one after the other
            member = zlib.decompressobj(wbits)
            chunk = member.decompress(rest, MAX_BODY + 1 - size)  # never more than the limit
            size += len(chunk)
            out.append(chunk)
            if size > MAX_BODY:
                raise EventParseError(f"body larger than {MAX_BODY} bytes once decompressed")
            if not member.eof:
                raise EventParseError(f"body is not valid {name}: it ends before its end")
            rest = member.unused_data
            if not rest or wbits != 31:
                break
    except zlib.error as exc:
        raise EventParseError(f"body is not valid {name}: {exc}") from None
    return b"".join(out)


async def _single(store: LineageStore, body: bytes, encoding: str | None) -> Response:
    """The answer to one event's request: 201, or the error naming what is wrong."""
    try:
        result = await store.ingest_async(decoded_body(body, encoding))  # on the loop when it can
    except EventParseError as exc:
        return error(400, str(exc))
    except EventValidationError as exc:
        return error(422, str(exc), path=exc.path, reason=exc.reason)
    payload = {
        "eventId": result.event_id,
        "duplicate": result.duplicate,
        "warnings": list(result.warnings),
    }
    return Response(orjson.dumps(payload), status_code=201, media_type="application/json")


class SingleEvents:
    """ASGI middleware: answer ``POST /api/v1/lineage`` itself; pass every other request on.

    It sits inside the authentication middleware (which has checked the key by then) and
    answers exactly as the route does.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != SINGLE_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            body = await _read_body(request)
        except ClientDisconnect:  # the client went away: nothing to store, nobody to answer
            return
        response = await _single(scope["app"].state.store, body, request.headers.get(_ENCODING))
        await response(scope, receive, send)


async def _read_body(request: Request) -> bytes:
    """The request's body, read no further than just past :data:`MAX_BODY` (which
    :func:`decoded_body` then refuses): a larger body is received, not kept.

    Raises:
        starlette.requests.ClientDisconnect: the client went away before the body's end.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        if size <= MAX_BODY:
            chunks.append(chunk)
            size += len(chunk)
    return b"".join(chunks)


@router.post(
    SINGLE_PATH.removeprefix(router.prefix), status_code=201, summary="Ingest one OpenLineage event"
)
async def post_lineage(request: Request) -> Response:
    """Store one RunEvent, DatasetEvent or JobEvent. 201 (also for a duplicate, which changes nothing)."""
    store = request.app.state.store
    return await _single(store, await _read_body(request), request.headers.get(_ENCODING))


@router.post("/lineage/batch", summary="Ingest an array of OpenLineage events")
async def post_batch(request: Request) -> Response:
    """Store each event in its own transaction; answer ``{received, successful, failed, failedEvents}``."""
    body = decoded_body(await _read_body(request), request.headers.get(_ENCODING))
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
    return Response(
        orjson.dumps(summary),
        status_code=200 if not failed else 207,
        media_type="application/json",
    )


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
