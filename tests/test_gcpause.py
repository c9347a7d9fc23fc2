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
