"""The HTTP API: OpenLineage ingest and Marquez-compatible reads (FastAPI)."""

from headwater.api.app import create_app

__all__ = ["create_app"]
