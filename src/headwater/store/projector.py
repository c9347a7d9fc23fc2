"""Keep the projection close behind the log: a background thread, or a process of its own.

Ingestion only appends to the event log (:meth:`LineageStore.ingest`); reads catch up
before they read, so they are never stale. A projector keeps the backlog short so that a
read rarely has anything left to project:

* :class:`BackgroundProjector`, a thread in the process that appends (the default of
  :func:`headwater.api.create_app`): it wakes when its store appends and, to pick up what
  other processes append, every ``poll`` seconds;
* :func:`follow`, a loop for a process of its own (``headwater db project --follow``, which
  ``headwater serve`` starts): projection then runs beside the server on another core
  instead of taking turns with request handling for the interpreter lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from headwater.store.base import LineageStore

log = logging.getLogger(__name__)


# Events per transaction of a projector that runs beside appends (which never wait for it: on
# SQLite the log has a file of its own). A batch of 500 holds the SQLite store file's lock for up
# to about 0.1 s of writing (not its computation, `SqlStore._project_off_lock`). While appends
# shared that lock, the follower used 100 while a batch held the lock throughout (500 then held it
# 0.4 s); with the lock held only to write, 500 projected and accepted HTTP batches 30-50% faster,
# single events as fast (A/B, same minutes).
FOLLOWER_BATCH = 500


class BackgroundProjector:
    """Runs :meth:`LineageStore.catch_up` on a daemon thread.

    Args:
        store: the store whose appends it projects.
        gather: seconds to wait after a wake-up, so that one transaction projects a batch.
        poll: seconds between checks when nothing wakes it (appends by other processes).
        batch: events per projection transaction (None: :data:`FOLLOWER_BATCH`).
    """

    def __init__(
        self,
        store: LineageStore,
        gather: float = 0.5,
        poll: float = 1.0,
        batch: int | None = None,
    ) -> None:
        self.store = store
        self.gather = gather
        self.poll = poll
        self.batch = FOLLOWER_BATCH if batch is None else batch
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
            done = self.batch
            while done == self.batch and not self._stop.is_set():  # behind: batch by batch
                try:
                    done, pause = project_once(self.store, self.batch, 0.0)
                except Exception:  # a database hiccup must not end the thread; reads catch up
                    log.exception("background projection failed; retrying")
                    break
                if pause and self._stop.wait(pause):
                    break


def follow(
    store: LineageStore,
    stop: threading.Event,
    interval: float = 0.25,
    batch: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Project whatever was appended, every ``interval`` seconds, until ``stop`` is set.

    Polling costs one cheap query when nothing is pending; the events that arrive during an
    interval are projected together, in transactions of up to ``batch`` events.

    Args:
        store: the store to follow.
        stop: set it to end the loop (after the batch in flight).
        interval: seconds between polls.
        batch: events per projection transaction (None: :data:`FOLLOWER_BATCH`).
        on_batch: called with the number of events after each catch-up that projected some.

    Returns:
        How many events it projected.
    """
    batch = FOLLOWER_BATCH if batch is None else batch
    total = 0
    while not stop.is_set():
        try:
            done, pause = project_once(store, batch, interval)
        except Exception:  # a database hiccup must not end the loop; reads catch up anyway
            log.exception("projection failed; retrying")
            done, pause = 0, interval
        if done:
            total += done
            if on_batch is not None:
                on_batch(done)
        stop.wait(pause)
    return total


def project_once(store: LineageStore, batch: int, interval: float) -> tuple[int, float]:
    """Project up to ``batch`` events in one transaction; how many, and the seconds to wait
    before the next (:func:`pause_after`)."""
    done = store.catch_up(limit=batch, batch=batch)
    return done, pause_after(done, batch, interval)


def pause_after(done: int, batch: int, interval: float) -> float:
    """Seconds to wait after projecting ``done`` events: the poll ``interval`` once caught up
    (fewer than a full batch), none while behind.

    Appends never wait for projection: on PostgreSQL they lock other rows, on SQLite they write
    another file (the event log's). While the log was in the store's file, a SQLite projector
    behind by several batches waited after each as long as it had taken, so that appends got
    the file's write lock in between (back to back, they starved until the whole backlog was
    projected); a backlog now drains at full speed.
    """
    return interval if done < batch else 0.0
