"""Routes of the web UI: static files and one HTML shell for every UI URL.

Every UI URL (``/``, ``/datasets/{ns}/{name}``, ``/lineage?node=...``) answers the
same ``index.html``; the page's router renders the view, so links are shareable and
the back button works. Paths under ``/api/`` never reach these routes, so unknown
API routes keep answering JSON 404s.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.convertors import Convertor, register_url_convertor

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
INDEX = WEB_DIR / "templates" / "index.html"

# UI paths the page's router knows; anything else gets the shell with status 404.
UI_PATHS = re.compile(
    r"^(|search|lineage|impact|trace|audit|diff|datasets/[^/]+/.+|jobs/[^/]+/.+|runs/[^/]+)/?$"
)


class UiPath(Convertor[str]):
    """A path convertor matching any path except ``api/...`` and ``static/...``."""

    regex = r"(?!api/|api$|static/).*"

    def convert(self, value: str) -> str:
        """Return the matched path unchanged."""
        return value

    def to_string(self, value: str) -> str:
        """Return the path unchanged."""
        return value


register_url_convertor("uipath", UiPath())


def shell(path: str) -> HTMLResponse:
    """The HTML shell for a UI path: 200 for known views, 404 (same page) otherwise.

    Args:
        path: the request path without its leading ``/``.

    Returns:
        ``index.html``, never cached so a new release is picked up at once.
    """
    status = 200 if UI_PATHS.match(path) else 404
    return HTMLResponse(
        INDEX.read_text(encoding="utf-8"),
        status_code=status,
        headers={"Cache-Control": "no-cache"},
    )


def install(app: FastAPI) -> None:
    """Add the UI to ``app``; call it after every API router is included.

    Args:
        app: the Headwater FastAPI app.
    """
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="web-static")

    @app.get("/{path:uipath}", include_in_schema=False, response_class=HTMLResponse)
    async def _page(path: str) -> HTMLResponse:
        return shell(path)
