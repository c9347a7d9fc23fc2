"""The ASGI app that ``headwater serve`` (uvicorn) imports; store from ``HEADWATER_DB_URL``."""

from headwater.api.app import create_app

app = create_app()
