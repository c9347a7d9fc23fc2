"""An OpenLineage client transport that writes into a Headwater store in-process.

``OpenLineageClient(transport=StoreTransport(store))`` emits straight into the
store (one transaction per event, like the HTTP API), so embedded runs need no
server. :func:`make_client` picks the transport: an explicit store, else
``OPENLINEAGE_URL`` / ``openlineage.yml`` (the client's own configuration), else
the default local store.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from pathlib import Path

from openlineage.client import OpenLineageClient
from openlineage.client.serde import Serde
from openlineage.client.transport import Transport
from openlineage.client.transport.transport import Config

from headwater.store import LineageStore, open_store

log = logging.getLogger(__name__)


class StoreTransport(Transport):
    """Emit events into a :class:`LineageStore` (validated and stored like the HTTP API does).

    With ``asynchronous=True`` events are queued and ingested in order by one background thread,
    so capture stays off the job's critical path; :meth:`flush` waits until all are stored. An
    event the store rejects is logged, never raised into the job (capture must not break it).
    """

    kind = "headwater"
    config_class = Config

    def __init__(self, store: LineageStore, asynchronous: bool = False) -> None:
        self.store = store
        self.errors: list[str] = []
        self._queue: queue.Queue[bytes | None] | None = None
        if asynchronous:
            self._queue = queue.Queue()
            threading.Thread(target=self._drain, name="headwater-capture", daemon=True).start()

    def emit(self, event: object) -> None:
        """Serialize with the client's own serializer and ingest (or queue for ingestion)."""
        payload = Serde.to_json(event).encode("utf-8")
        if self._queue is not None:
            self._queue.put(payload)
        else:
            self._ingest(payload)

    def _ingest(self, payload: bytes) -> None:
        try:
            self.store.ingest(payload)
        except Exception as exc:
            message = f"lineage event not stored: {exc}"
            log.error(message)
            self.errors.append(message)

    def _drain(self) -> None:
        """Store queued events in order; what queued up meanwhile goes in one batch transaction."""
        assert self._queue is not None
        while True:
            batch = [self._queue.get()]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                payloads = [p for p in batch if p is not None]
                if len(payloads) == 1:
                    self._ingest(payloads[0])
                elif payloads:
                    self._ingest_many(payloads)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _ingest_many(self, payloads: list[bytes]) -> None:
        try:
            results = self.store.ingest_many(payloads)
        except Exception as exc:
            message = f"lineage events not stored: {exc}"
            log.error(message)
            self.errors.append(message)
            return
        for item in results:
            if item.error is not None:
                message = f"lineage event not stored: {item.error}"
                log.error(message)
                self.errors.append(message)

    def flush(self) -> None:
        """Wait until every queued event is stored."""
        if self._queue is not None:
            self._queue.join()

    def close(self, timeout: float = -1) -> bool:
        """Flush; the background thread is a daemon and ends with the process."""
        self.flush()
        return True


def flush(client: OpenLineageClient | None) -> None:
    """Wait for a client's queued events (a no-op for transports that send synchronously)."""
    transport = getattr(client, "transport", None)
    if isinstance(transport, StoreTransport):
        transport.flush()


def make_client(
    store: LineageStore | None = None, db_url: str | None = None, asynchronous: bool = False
) -> OpenLineageClient:
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
    return OpenLineageClient(transport=StoreTransport(store or open_store(db_url), asynchronous))
