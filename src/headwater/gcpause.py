"""Pause Python's cyclic garbage collector around large, bounded graph reads.

A traversal over tens of thousands of nodes allocates hundreds of thousands of short-lived objects;
each allocation burst triggers generational collections that re-scan every long-lived object of the
process (caches, SQLAlchemy structures), which measured about half the time of a hub traversal.
The objects a traversal creates hold no reference cycles, so reference counting frees them anyway;
pausing the collector while it runs is safe. Pauses nest and are shared across threads: the
collector is re-enabled when the last concurrent pause ends, and only if it was enabled before;
what the pause built and kept is first moved to the oldest generation, so that the collection its
next allocation would trigger does not scan it (see :func:`_promote`).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

_lock = threading.Lock()
_depth = 0
_was_enabled = False

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def paused() -> Iterator[None]:
    """Disable the cyclic collector for the duration of the block (nesting and threads allowed)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                _promote()
                gc.enable()


def _promote() -> None:
    """Move every object the young generations hold into the oldest one, without scanning them.

    While paused, the collector still counts allocations: re-enabled, its next allocation would
    collect the youngest generation, which then holds everything the paused block built and
    kept (a hub's report: tens of thousands of objects, about 10 ms to scan, on every call).
    Freezing and unfreezing moves the generations' lists into the oldest one in constant time;
    the objects are freed by reference counting as before, and a full collection still scans
    them. Skipped when something else froze objects (``gc.freeze`` before a fork), whose frozen
    objects unfreezing would release.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


def pausing_gc(function: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of :func:`paused`."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with paused():
            return function(*args, **kwargs)

    return wrapper
