"""A background thread that projects accepted events soon after they are appended.

Ingestion only appends to the event log (:meth:`LineageStore.ingest`); reads catch up
before they read, so they are never stale. This thread keeps the backlog short in a
long-running process (``headwater serve``), so a read rarely has anything left to project:
it wakes when its store appends and, to pick up what other processes append, every
``poll`` seconds.
"""

from __future__ import annotations

import logging
import threading

from headwater.store.base import LineageStore

log = logging.getLogger(__name__)


class BackgroundProjector:
    """Runs :meth:`LineageStore.catch_up` on a daemon thread.

    Args:
        store: the store whose appends it projects.
        gather: seconds to wait after a wake-up, so that one transaction projects a batch.
        poll: seconds between checks when nothing wakes it (appends by other processes).
        batch: events per projection transaction (short, so appends do not wait long).
    """

    def __init__(
        self, store: LineageStore, gather: float = 0.05, poll: float = 1.0, batch: int = 200
    ) -> None:
        self.store = store
        self.gather = gather
        self.poll = poll
        self.batch = batch
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread and have the store wake it after each append."""
        self.store.on_append = self._wake.set
        self._thread = threading.Thread(target=self._loop, name="headwater-projector", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread (after the batch in flight)."""
        self.store.on_append = None
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll)
            if self._stop.wait(self.gather):
                break
            self._wake.clear()
            try:
                self.store.catch_up(batch=self.batch)
            except Exception:  # a database hiccup must not end the thread; reads catch up anyway
                log.exception("background projection failed; retrying")
