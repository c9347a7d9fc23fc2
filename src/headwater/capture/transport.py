"""An OpenLineage client transport that writes into a Headwater store in-process.

``OpenLineageClient(transport=StoreTransport(store))`` emits straight into the
store (one transaction per event, like the HTTP API), so embedded runs need no
server. :func:`make_client` picks the transport: an explicit store, else
``OPENLINEAGE_URL`` / ``openlineage.yml`` (the client's own configuration), else
the default local store.
"""

from __future__ import annotations

import os
from pathlib import Path

from openlineage.client import OpenLineageClient
from openlineage.client.serde import Serde
from openlineage.client.transport import Transport
from openlineage.client.transport.transport import Config

from headwater.store import LineageStore, open_store


class StoreTransport(Transport):
    """Emit events into a :class:`LineageStore` (validated and stored like the HTTP API does)."""

    kind = "headwater"
    config_class = Config

    def __init__(self, store: LineageStore) -> None:
        self.store = store

    def emit(self, event: object) -> None:
        """Serialize with the client's own serializer and ingest."""
        self.store.ingest(Serde.to_json(event).encode("utf-8"))


def make_client(store: LineageStore | None = None, db_url: str | None = None) -> OpenLineageClient:
    """The OpenLineage client capture uses.

    Precedence: an explicit ``store`` or ``db_url``; else ``OPENLINEAGE_URL`` or an
    ``openlineage.yml`` (``OPENLINEAGE_CONFIG`` or ./openlineage.yml), configured the
    client's usual way; else the local store (``HEADWATER_DB_URL`` or ./headwater.db).
    """
    if store is None and db_url is None:
        config = os.environ.get("OPENLINEAGE_CONFIG") or (
            "openlineage.yml" if Path("openlineage.yml").exists() else None
        )
        if os.environ.get("OPENLINEAGE_URL") or config:
            return OpenLineageClient()
    return OpenLineageClient(transport=StoreTransport(store or open_store(db_url)))
