"""Pause Python's cyclic garbage collector around large, bounded graph reads.

A traversal over tens of thousands of nodes allocates hundreds of thousands of short-lived objects;
each allocation burst triggers generational collections that re-scan every long-lived object of the
process (caches, SQLAlchemy structures), which measured about half the time of a hub traversal.
The objects a traversal creates hold no reference cycles, so reference counting frees them anyway;
pausing the collector while it runs is safe. Pauses nest and are shared across threads: the
collector is re-enabled when the last concurrent pause ends, and only if it was enabled before.
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
                gc.enable()


def pausing_gc(function: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of :func:`paused`."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with paused():
            return function(*args, **kwargs)

    return wrapper
