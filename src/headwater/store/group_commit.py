"""Group commit: concurrent single-item writes share one transaction.

Appends serialize on the event log's chain head, and a durable commit waits for the
database to flush its log (``fsync``: 1-3 ms on an ordinary disk, far more than the
append itself). With one transaction per request, concurrent producers queue behind
each other's flushes. :class:`GroupCommit` lets them share flushes instead: the
first caller to find no write in flight becomes the *leader* and writes every item
queued at that moment in one call; callers that arrive meanwhile queue up and the
next leader takes them all. A caller alone never waits for company, so a single
sequential producer sees no added latency.

Each caller gets its own item's result, or its own item's exception, raised in its
own thread: ``write_many`` reports per item, so one refused item fails alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

_I = TypeVar("_I")
_R = TypeVar("_R")


class _Pending(Generic[_I, _R]):
    """One queued item and, once written, its outcome."""

    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: _I) -> None:
        self.item = item
        self.done = False
        self.result: _R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[_I, _R]):
    """Coalesce concurrent :meth:`submit` calls into calls of ``write_many``.

    Args:
        write_many: writes the items in order, in one transaction where it can, and returns
            one outcome per item: its result, or the exception that refused it. An exception
            raised by ``write_many`` itself fails every item of that call.
        max_items: at most this many items per call (the rest wait for the next leader).
    """

    def __init__(
        self,
        write_many: Callable[[Sequence[_I]], Sequence[_R | BaseException]],
        max_items: int = 500,
    ) -> None:
        self._write_many = write_many
        self._max_items = max_items
        self._queue: list[_Pending[_I, _R]] = []
        self._writing = False  # a call of ``write_many`` is in flight
        self._changed = threading.Condition()  # guards both; notified when a call ends

    def submit(self, item: _I) -> _R:
        """Write ``item`` (with whatever else is queued) and return its result.

        Raises:
            BaseException: whatever refused this item.
        """
        pending: _Pending[_I, _R] = _Pending(item)
        with self._changed:
            self._queue.append(pending)
        while True:
            with self._changed:
                while self._writing and not pending.done:
                    self._changed.wait()
                if pending.done:  # a leader wrote it
                    break
                self._writing = True  # lead: take the queue as it stands
                group = self._queue[: self._max_items]
                del self._queue[: self._max_items]
            try:
                self._lead(group)
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def _lead(self, group: list[_Pending[_I, _R]]) -> None:
        try:
            outcomes: Sequence[_R | BaseException] = self._write_many([p.item for p in group])
            if len(outcomes) != len(group):
                msg = f"write_many returned {len(outcomes)} outcomes for {len(group)} items"
                raise RuntimeError(msg)
        except BaseException as exc:
            outcomes = [exc] * len(group)
        for pending, outcome in zip(group, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                pending.error = outcome
            else:
                pending.result = outcome
            pending.done = True


__all__ = ["GroupCommit"]
