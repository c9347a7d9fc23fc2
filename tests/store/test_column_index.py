"""The in-memory column index walks exactly as the database's recursive query does.

Random column graphs (cycles, edges within a dataset, edges whose DIRECT transformation is not the
first, jobs rewritten with other lineage, ownership on some nodes) are ingested in rounds; after
every round each column's downstream walk through the index (kept up to date incrementally)
must equal the database walk of a store opened without an index.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from factories import RANDOM_FIELDS as FIELDS
from factories import random_column_event
from headwater.model import DatasetId, JobId
from headwater.store.column_index import ColumnIndex
from headwater.store.sql import SqlStore

DATASETS = [f"d{i}" for i in range(6)]


def _walks(store: SqlStore) -> list[Any]:
    return [
        store.column_downstream((DatasetId("warehouse", ds), field), depth, None, ["ownership"])
        for ds in DATASETS
        for field in FIELDS
        for depth in (1, 2, 20)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_index_walks_equal_database_walks(store_url, seed):
    rng = random.Random(seed)
    indexed = SqlStore(store_url)
    indexed.upgrade()
    database = SqlStore(store_url, column_index_edges=0)
    at = 0
    for _ in range(3):  # each round: new jobs, and old jobs rewritten with other lineage
        for _ in range(8):
            at += 1
            indexed.ingest(random_column_event(rng, rng.randrange(6), at, DATASETS))
        expected = _walks(database)
        assert _walks(indexed) == expected
        assert any(len(r.states) > 3 for r in expected)  # the graphs are not trivial
        assert any(r.facets for r in expected)
    assert indexed._column_index is not None and indexed._column_index.mark is not None
    indexed.close()
    database.close()


def test_an_index_past_its_bound_hands_walks_to_the_database(store_url):
    rng = random.Random(7)
    small = SqlStore(store_url, column_index_edges=5)
    small.upgrade()
    database = SqlStore(store_url, column_index_edges=0)
    for at in range(6):
        small.ingest(random_column_event(rng, at, at, DATASETS))
    assert _walks(small) == _walks(database)
    index = small._column_index
    assert index is not None and not index.usable and len(index) == 0  # emptied, not half full
    small.close()
    database.close()


def test_walk_rules_on_a_hand_made_graph():
    # a.x -> b.y (DIRECT, edge 1) and a.x -> b.y (INDIRECT, edge 2); b.y -> c.z via two jobs;
    # c.z -> a.x (back into the start)
    index = ColumnIndex(100)
    index.load(
        [
            (1, 1, "x", 2, "y", 10, "DIRECT", '[{"type":"DIRECT"}]'),
            (2, 1, "x", 2, "y", 11, "INDIRECT", '[{"type":"INDIRECT"}]'),
            (3, 2, "y", 3, "z", 12, "DIRECT", '[{"type":"DIRECT"}]'),
            (4, 2, "y", 3, "z", 13, "INDIRECT", '[{"type":"INDIRECT"},{"type":"DIRECT"}]'),
            (5, 3, "z", 1, "x", 14, "DIRECT", '[{"type":"DIRECT"}]'),
        ],
        mark=1,
    )
    walk = index.walk((1, "x"), 20)
    assert walk is not None
    rows = {(r.dataset, r.field, r.direct): r for r in walk.rows()}
    assert rows[(1, "x", 1)].job == 14  # the edge back into the start, for its job
    assert rows[(2, "y", 1)].depth == 1 and rows[(2, "y", 1)].job == 10
    assert rows[(2, "y", 0)].job == 11
    assert rows[(3, "z", 1)].jobs == "12,13"  # a DIRECT transformation after an INDIRECT one
    assert rows[(3, "z", 0)].pred_direct == 0  # reached from b.y's INDIRECT state
    assert {r.depth for r in index.walk((1, "x"), 1).rows()} == {1}
    index.replace_jobs([12, 13], [], mark=2)  # those jobs now write no column lineage
    assert {(r.dataset, r.field) for r in index.walk((1, "x"), 20).rows()} == {(2, "y")}
    assert index.walk((9, "nope"), 20) is None


def _random_index(rng: random.Random) -> tuple[ColumnIndex, dict[int, DatasetId], dict[int, Any]]:
    """An index over random edges: 8 datasets whose keys are not in name order, 3 fields, cycles,
    edges within a dataset, several jobs into a field, DIRECT and INDIRECT edges."""
    from headwater.model import JobId

    keys = rng.sample(range(100, 200), 8)
    datasets = {k: DatasetId("warehouse", f"d{i}") for i, k in enumerate(keys)}
    jobs = {j: JobId("etl", f"job{rng.randrange(1000)}-{j}") for j in range(1, 9)}
    texts = [
        ("DIRECT", '[{"type":"DIRECT","subtype":"IDENTITY","description":"x"}]'),
        ("INDIRECT", '[{"type":"INDIRECT","subtype":"JOIN"}]'),
        ("INDIRECT", '[{"type":"INDIRECT"},{"type":"DIRECT","description":"y"}]'),
    ]
    rows = []
    for edge_id in rng.sample(range(1, 1000), 40):
        type_, text = rng.choice(texts)
        rows.append(
            (
                edge_id,
                rng.choice(keys),
                rng.choice(FIELDS),
                rng.choice(keys),
                rng.choice(FIELDS),
                rng.choice(list(jobs)),
                type_,
                text,
            )
        )
    index = ColumnIndex(1000)
    index.load(rows, mark=1)
    return index, datasets, jobs


@pytest.mark.parametrize("seed", range(40))
def test_walk_states_equal_the_states_of_its_rows(seed):
    """The index's states, built straight from the walk, equal what the shared row path
    (column_states, as for the database walk's rows) makes of the same walk."""
    from headwater.store.traversal import column_states

    rng = random.Random(seed)
    index, datasets, jobs = _random_index(rng)
    compared = twins = 0
    for ds in datasets:
        for field in FIELDS:
            for depth in (1, 2, 3, 20):
                walk = index.walk((ds, field), depth)
                if walk is None:
                    continue
                dataset_keys, job_keys = walk.keys()
                states = walk.states(datasets[ds], datasets, jobs)
                rows = walk.rows()
                assert states == column_states(datasets[ds], field, ds, rows, datasets, jobs)
                named = {datasets[k] for k in dataset_keys}
                assert {s.dataset for s in states[1:]} <= named
                assert {j for s in states for j in s.jobs} == {jobs[k] for k in job_keys}
                order = [
                    (s.depth, s.dataset.namespace, s.dataset.name, s.field, s.direct)
                    for s in states[1:]
                ]
                assert order == sorted(order)
                compared += len(states)
                twins += len(states) - len({(s.dataset, s.field) for s in states})
    assert compared > 200 and twins  # not trivial: fields reached in both states


def test_states_stay_in_name_order_when_the_index_grows():
    """The ranks that order a walk's states are rebuilt when a node is added: a dataset that
    sorts before every other one, added after a walk, is listed first at its depth."""
    from headwater.store.traversal import column_states

    datasets = {1: DatasetId("w", "m"), 2: DatasetId("w", "z"), 3: DatasetId("w", "a")}
    jobs = {10: JobId("etl", "one"), 11: JobId("etl", "two")}
    direct = '[{"type":"DIRECT"}]'
    index = ColumnIndex(100)
    index.load([(1, 1, "x", 2, "y", 10, "DIRECT", direct)], mark=1)
    walk = index.walk((1, "x"), 20)
    assert walk is not None and index.ranked() is False
    assert [s.dataset.name for s in walk.states(datasets[1], datasets, jobs)] == ["m", "z"]
    assert index.ranked()
    index.replace_jobs([11], [(2, 1, "x", 3, "y", 11, "DIRECT", direct)], mark=2)
    assert not index.ranked()  # a node was added
    walk = index.walk((1, "x"), 20)
    assert walk is not None
    states = walk.states(datasets[1], datasets, jobs)
    assert [s.dataset.name for s in states] == ["m", "a", "z"]
    assert states == column_states(datasets[1], "x", 1, walk.rows(), datasets, jobs)
    index.replace_jobs([10], [], mark=3)  # a job's edges dropped: z is no longer reached
    walk = index.walk((1, "x"), 20)
    assert walk is not None and index.ranked()  # no node added: the ranks are kept
    assert [s.dataset.name for s in walk.states(datasets[1], datasets, jobs)] == ["m", "a"]


def test_a_refresh_drops_only_the_facets_of_what_its_events_touched():
    index = ColumnIndex(100)
    index.load([(1, 1, "x", 2, "y", 10, "DIRECT", '[{"type":"DIRECT"}]')], mark=1)
    team = {"ownership": {"owners": [{"name": "team"}]}}
    index.facets[("datasets", ("ownership",))] = ({1, 2, 3}, {1: team, 2: team})
    index.facets[("jobs", ("ownership",))] = ({10, 11}, {10: team})
    index.replace_jobs([11], [], mark=2, touched=({2, 3}, {11}))
    assert index.facets[("datasets", ("ownership",))] == ({1}, {1: team})
    assert index.facets[("jobs", ("ownership",))] == ({10}, {10: team})
    index.replace_jobs([10], [], mark=3, touched=None)  # too many events to tell: all go
    assert index.facets == {}
