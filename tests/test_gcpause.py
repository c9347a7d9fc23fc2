"""The collector pause used around large graph reads nests, and restores what it found."""

import gc
import threading

from headwater.gcpause import paused, pausing_gc


def test_pause_nests_and_restores():
    assert gc.isenabled()
    with paused():
        assert not gc.isenabled()
        with paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    try:
        with paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_concurrent_pauses_enable_once_the_last_ends():
    inside, release = threading.Event(), threading.Event()

    @pausing_gc
    def hold() -> None:
        inside.set()
        release.wait(5)

    worker = threading.Thread(target=hold)
    worker.start()
    inside.wait(5)
    with paused():
        pass
    assert not gc.isenabled()  # the worker's pause is still running
    release.set()
    worker.join(5)
    assert gc.isenabled()


class _Node:
    def __init__(self, parent: object) -> None:
        self.parent = parent


def test_what_a_pause_built_goes_to_the_oldest_generation_unscanned():
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    with paused():
        kept = [_Node(i) for i in range(50_000)]  # far past the young generation's threshold
    gc.callbacks.append(count)
    try:
        extra = [_Node(i) for i in range(100)]  # the allocations that would trigger a scan
    finally:
        gc.callbacks.remove(count)
    assert collections == []  # no young-generation scan of the 50,000 on the way out
    assert gc.get_count()[0] < 700
    assert any(o is kept[0] for o in gc.get_objects(generation=2))
    del kept, extra
    with paused():
        cycle = _Node(None)
        cycle.parent = cycle  # garbage that only the collector frees
    del cycle
    assert gc.collect() >= 1  # promoted, it is still found by a full collection


def test_objects_someone_froze_stay_frozen():
    frozen = _Node(None)
    gc.freeze()
    try:
        with paused():
            [_Node(i) for i in range(1_000)]
        # still in the permanent generation, which get_objects does not list (a count would
        # drop whenever another thread frees some frozen object meanwhile)
        assert not any(o is frozen for o in gc.get_objects())
    finally:
        gc.unfreeze()
    assert any(o is frozen for o in gc.get_objects())
