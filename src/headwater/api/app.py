"""The FastAPI application factory.

Handlers never open connections: they call the :class:`LineageStore` handed to
:func:`create_app`. Sync store calls run in the thread pool. Marquez clients
URL-encode ``/`` inside names (``gs:%2F%2Fbucket``); :class:`EncodedSlashes`
keeps those encoded through routing so a name never splits a path.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import unquote

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

import headwater
from headwater import web
from headwater.analysis.trace import DataReader
from headwater.api import analysis, errors, ingest, reads
from headwater.api.auth import ApiKeys, load_keys
from headwater.store import LineageStore, open_store
from headwater.store.projector import BackgroundProjector


class EncodedSlashes:
    """ASGI middleware: route on the raw path so ``%2F`` inside a segment survives.

    The segment reaches the handler with ``%2F`` still encoded; :func:`reads.name`
    decodes it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("raw_path"):
            raw = scope["raw_path"].decode("latin-1").split("?", 1)[0]
            if "%2f" in raw.lower():
                protected = raw.replace("%2F", "%252F").replace("%2f", "%252F")
                scope = {**scope, "path": unquote(protected)}
        await self.app(scope, receive, send)


class RequireApiKey:
    """ASGI middleware: refuse ``/api`` requests without a valid key (when keys are set).

    A plain ASGI middleware rather than ``@app.middleware("http")``, whose per-request task and
    streams cost more than storing an event does.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith("/api/") and path != "/api/v1/health":
            keys: ApiKeys = scope["app"].state.api_keys
            if keys.enabled:
                write = scope["method"] in ("POST", "PUT", "DELETE", "PATCH")
                denied = keys.check(Headers(scope=scope).get("authorization"), write)
                if denied:
                    await errors.error(denied[0], denied[1])(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def create_app(
    store: LineageStore | None = None,
    *,
    api_keys: ApiKeys | None = None,
    db_url: str | None = None,
    reader: DataReader | None = None,
    projector: bool | None = None,
) -> FastAPI:
    """Build the API.

    Args:
        store: the lineage store; opened from ``db_url`` / ``HEADWATER_DB_URL`` when None.
        api_keys: API keys; read from the environment when None (see :mod:`headwater.api.auth`).
        db_url: store URL used when ``store`` is None.
        reader: where row-level traces read data; when None, the Iceberg SQL catalog in
            ``HEADWATER_CATALOG_DIR`` if set (``headwater serve --catalog-dir``), else none
            (``/api/v1/headwater/trace`` then answers 409).
        projector: run a background projector thread (see :mod:`headwater.store.projector`);
            when None, unless ``HEADWATER_PROJECTOR=external`` (``headwater serve`` runs the
            projector in a process of its own and sets it).

    Returns:
        The FastAPI app (an ASGI app).
    """
    lineage_store = store if store is not None else open_store(db_url)

    if projector is None:
        projector = os.environ.get("HEADWATER_PROJECTOR", "thread") != "external"

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not projector:
            yield
            return
        background = BackgroundProjector(lineage_store)
        background.start()
        try:
            yield
        finally:
            background.stop()

    app = FastAPI(
        title="Headwater",
        version=headwater.__version__,
        description="OpenLineage ingest, Marquez-compatible lineage reads and a web UI at /.",
        lifespan=lifespan,
    )
    app.state.store = lineage_store
    app.state.api_keys = api_keys if api_keys is not None else load_keys()
    app.state.reader = reader if reader is not None else _reader_from_env()
    errors.install(app)

    app.include_router(ingest.router)
    app.include_router(reads.router)
    app.include_router(analysis.router)
    web.install(app)  # last: its catch-all serves the UI's pages
    app.add_middleware(ingest.SingleEvents)  # innermost: after the key check
    app.add_middleware(RequireApiKey)
    app.add_middleware(EncodedSlashes)
    return app


def _reader_from_env() -> DataReader | None:
    directory = os.environ.get("HEADWATER_CATALOG_DIR")
    if not directory:
        return None
    from headwater.capture.iceberg import IcebergReader, open_catalog

    return IcebergReader(open_catalog(Path(directory)))
