"""GroupCommit: concurrent submits share calls, each caller gets its own outcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from headwater.store.group_commit import GroupCommit


class Writer:
    """A ``write_many`` that records its calls and can be slow or refuse items."""

    def __init__(self, delay: float = 0.0, refuse: frozenset[int] = frozenset()) -> None:
        self.calls: list[list[int]] = []
        self.delay = delay
        self.refuse = refuse
        self.lock = threading.Lock()

    def __call__(self, items: Sequence[int]) -> list[int | BaseException]:
        with self.lock:
            self.calls.append(list(items))
        time.sleep(self.delay)
        return [ValueError(f"refused {i}") if i in self.refuse else i * 10 for i in items]


def submit_all(group: GroupCommit[int, int], items: list[int]) -> dict[int, int | str]:
    outcomes: dict[int, int | str] = {}
    start = threading.Barrier(len(items))

    def run(i: int) -> None:
        start.wait()
        try:
            outcomes[i] = group.submit(i)
        except ValueError as exc:
            outcomes[i] = str(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in items]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    return outcomes


def test_a_lone_caller_writes_alone_and_at_once():
    writer = Writer()
    group: GroupCommit[int, int] = GroupCommit(writer)
    assert [group.submit(i) for i in range(3)] == [0, 10, 20]
    assert writer.calls == [[0], [1], [2]]


def test_concurrent_callers_share_calls_and_get_their_own_results():
    writer = Writer(delay=0.05)
    group: GroupCommit[int, int] = GroupCommit(writer)
    outcomes = submit_all(group, list(range(20)))
    assert outcomes == {i: i * 10 for i in range(20)}
    written = [i for call in writer.calls for i in call]
    assert sorted(written) == list(range(20))  # each item written exactly once
    assert len(writer.calls) < 20  # and some of them together
    assert max(len(call) for call in writer.calls) > 1


def test_a_refused_item_fails_alone():
    writer = Writer(delay=0.05, refuse=frozenset({3, 7}))
    group: GroupCommit[int, int] = GroupCommit(writer)
    outcomes = submit_all(group, list(range(10)))
    assert outcomes[3] == "refused 3" and outcomes[7] == "refused 7"
    assert all(outcomes[i] == i * 10 for i in range(10) if i not in (3, 7))


def test_a_failing_call_fails_its_items_and_the_next_call_works():
    calls = 0

    def flaky(items: Sequence[int]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ValueError("database down")
        return list(items)

    group: GroupCommit[int, int] = GroupCommit(flaky)
    with pytest.raises(ValueError, match="database down"):
        group.submit(1)
    assert group.submit(2) == 2


def test_a_wrong_number_of_outcomes_is_an_error_not_a_wrong_answer():
    group: GroupCommit[int, int] = GroupCommit(lambda items: [])
    with pytest.raises(RuntimeError, match="0 outcomes for 1 items"):
        group.submit(1)


def test_calls_hold_at_most_max_items():
    writer = Writer(delay=0.05)
    group: GroupCommit[int, int] = GroupCommit(writer, max_items=3)
    outcomes = submit_all(group, list(range(12)))
    assert outcomes == {i: i * 10 for i in range(12)}
    assert max(len(call) for call in writer.calls) <= 3
