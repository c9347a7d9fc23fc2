"""The node cache gives exactly what reading the rows gives, and forgets what events change.

A store with the cache and one without it read the same database; random rounds of events (runs
started and completed, late events, schema and facet changes, dataset and job events, a run id
reported under another job, tags written by another store) go in through the uncached store,
and after every round the cached store's graphs and node JSON must equal the uncached store's.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

from factories import PRODUCER, dataset, run_event, ts
from headwater.graph import lineage
from headwater.model import DatasetId, JobId
from headwater.model.events import parse_event
from headwater.store import sql
from headwater.store.node_cache import LogPosition, NodeCache, touched_by
from headwater.store.sql import SqlStore

DATASETS = [f"d{i}" for i in range(6)]
JOBS = [f"job{i}" for i in range(4)]
FIELDS = ["a", "b", "c", "d"]


def _owner(team: str) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": "x", "owners": [{"name": team, "type": "TEAM"}]}


def _dataset(rng: random.Random, name: str) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if rng.random() < 0.4:
        facets["ownership"] = _owner(f"team-{rng.randrange(3)}")
    fields = rng.sample(FIELDS, rng.randint(1, 4)) if rng.random() < 0.7 else None
    return dataset(name, fields=fields, **facets)


def _event(rng: random.Random, runs: list[str], at: int) -> dict[str, Any]:
    """A run event (a new run, or another event of an earlier one, maybe of another job), a
    dataset event or a job event; a fifth of them earlier than the events before."""
    when = at - rng.randrange(5) if rng.random() < 0.2 else at
    job = rng.choice(JOBS)
    kind = rng.random()
    if kind < 0.1:
        return {
            "eventTime": ts(when),
            "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
            "dataset": _dataset(rng, rng.choice(DATASETS)),
        }
    inputs = [_dataset(rng, n) for n in rng.sample(DATASETS, rng.randint(0, 2))]
    outputs = [_dataset(rng, n) for n in rng.sample(DATASETS, rng.randint(1, 2))]
    if kind < 0.2:
        return {
            "eventTime": ts(when),
            "producer": PRODUCER,
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
            "job": {"namespace": "pipelines", "name": job, "facets": {}},
            "inputs": inputs,
            "outputs": outputs,
        }
    run_id = rng.choice(runs) if runs and rng.random() < 0.4 else str(uuid.uuid4())
    runs.append(run_id)
    event = run_event(
        rng.choice(["START", "RUNNING", "COMPLETE", "FAIL"]),
        job=job,
        run_id=run_id,
        inputs=inputs,
        outputs=outputs,
        at=when,
        sql=f"select {rng.randrange(3)}" if rng.random() < 0.3 else None,
    )
    if rng.random() < 0.3:
        event["job"]["facets"]["ownership"] = _owner(f"team-{rng.randrange(3)}")
    return event


def _reads(store: SqlStore) -> list[Any]:
    datasets = [DatasetId("warehouse", n) for n in DATASETS]
    jobs = [JobId("pipelines", n) for n in JOBS]
    graphs = [
        lineage(store, node, depth, direction)
        for node in [*datasets, *jobs]
        if store.node_exists(node)
        for depth, direction in ((20, "both"), (1, "downstream"))
    ]
    return [graphs, store.datasets_by_id(datasets), store.jobs_by_id(jobs)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cached_reads_equal_uncached_reads_as_events_arrive(store_url, seed):
    rng = random.Random(seed)
    cached = SqlStore(store_url, node_cache_nodes=1000)
    cached.upgrade()
    writer = SqlStore(store_url, node_cache_nodes=0)  # another process, as far as the cache knows
    runs: list[str] = []
    at = 0
    for _ in range(6):
        for _ in range(rng.randint(1, 6)):
            at += 1
            writer.ingest(_event(rng, runs, at))
        if rng.random() < 0.5:
            writer.catch_up()  # projected by the writer: only the watermark tells the cache
        if rng.random() < 0.4 and writer.node_exists(DatasetId("warehouse", "d0")):
            ds = DatasetId("warehouse", "d0")
            field = (writer.dataset_fields([ds])[ds] or [{"name": None}])[0]["name"]
            writer.tag(f"tag{rng.randrange(3)}", ds, field if rng.random() < 0.5 else None)
        assert _reads(cached) == _reads(writer)
    cache = cached._node_cache
    assert cache is not None and len(cache) > 0
    cached.close()
    writer.close()


def test_the_next_read_shows_an_ingested_change(store):
    hub = DatasetId("warehouse", "hub")
    run_id = str(uuid.uuid4())
    out = dataset("out", fields=["a"])
    store.ingest(run_event("START", job="j", run_id=run_id, inputs=[dataset("hub")], outputs=[out]))
    first = {n["id"]: n["data"] for n in lineage(store, hub, 20, "downstream")["graph"]}
    assert first["job:pipelines:j"]["latestRun"]["state"] == "RUNNING"
    assert [f["name"] for f in first["dataset:warehouse:out"]["fields"]] == ["a"]
    store.ingest(
        run_event(
            "COMPLETE",
            job="j",
            run_id=run_id,
            inputs=[dataset("hub")],
            outputs=[dataset("out", fields=["a", "b"])],
            at=60,
        )
    )
    store.tag("pii", DatasetId("warehouse", "out"), "b")
    then = {n["id"]: n["data"] for n in lineage(store, hub, 20, "downstream")["graph"]}
    assert then["job:pipelines:j"]["latestRun"]["state"] == "COMPLETED"
    fields = then["dataset:warehouse:out"]["fields"]
    assert [(f["name"], f["tags"]) for f in fields] == [("a", []), ("b", ["pii"])]
    assert store.get_dataset(DatasetId("warehouse", "out"))["fields"] == fields


def test_a_long_way_behind_the_cache_starts_over(store_url, monkeypatch):
    cached = SqlStore(store_url, node_cache_nodes=100)
    cached.upgrade()
    writer = SqlStore(store_url, node_cache_nodes=0)
    hub = DatasetId("warehouse", "hub")
    writer.ingest(run_event(job="j", inputs=[dataset("hub")], outputs=[dataset("out")]))
    assert _reads(cached) == _reads(writer)
    monkeypatch.setattr(sql, "_NODE_RELOAD", 2)
    for at in range(1, 4):  # three events: more than the cache reads through
        writer.ingest(
            run_event(
                job="j", inputs=[dataset("hub")], outputs=[dataset("out", fields=[str(at)])], at=at
            )
        )
    writer.catch_up()
    cache = cached._node_cache
    assert cache is not None
    generation = cache.generation
    assert lineage(cached, hub) == lineage(writer, hub)
    assert cache.generation == generation + 1
    cached.close()
    writer.close()


def test_the_cache_keeps_at_most_its_bound(store):
    small = SqlStore(store.url, node_cache_nodes=3)
    for i in range(4):
        store.ingest(run_event(job=f"j{i}", inputs=[dataset("hub")], outputs=[dataset(f"o{i}")]))
    hub = DatasetId("warehouse", "hub")
    assert lineage(small, hub) == lineage(store, hub) == lineage(small, hub)
    assert small._node_cache is not None and len(small._node_cache) == 3
    small.close()


def test_what_a_read_found_before_a_refresh_is_not_kept():
    cache = NodeCache(10)
    ds = DatasetId("warehouse", "t")
    cache.refresh(LogPosition(1, (0, None)), None)
    generation = cache.generation
    cache.refresh(LogPosition(2, (0, None)), touched_by([]))  # another read moved it on
    cache.add(generation, {ds: {"name": "t"}})
    assert cache.lookup([ds]) == ({}, [ds])
    cache.add(cache.generation, {ds: {"name": "t"}})
    assert cache.lookup([ds]) == ({ds: {"name": "t"}}, [])


def test_events_drop_what_they_can_change():
    cache = NodeCache(10)
    cache.refresh(LogPosition(1, (0, None)), None)
    kept, changed = DatasetId("warehouse", "kept"), DatasetId("warehouse", "out")
    job, other = JobId("pipelines", "j"), JobId("pipelines", "other")
    cache.add(
        cache.generation,
        {kept: {"name": "kept"}, changed: {"name": "out"}},
    )
    cache.add(cache.generation, {other: {"latestRun": {"id": "r1"}}, job: {"latestRun": None}})
    # an event of job j for run r1, which job "other" shows as its latest run
    event = parse_event(run_event(job="j", run_id="r1", outputs=[dataset("out")]))
    cache.refresh(LogPosition(2, (0, None)), touched_by([event]))
    assert cache.lookup([kept, changed]) == ({kept: {"name": "kept"}}, [changed])
    assert cache.lookup([job, other]) == ({}, [job, other])
    cache.add(cache.generation, {changed: {"name": "out"}})
    cache.refresh(LogPosition(2, (1, "now")), touched_by([]))  # a tag: every dataset goes
    assert cache.lookup([kept, changed]) == ({}, [kept, changed])
    cache.add(cache.generation, {kept: {"name": "kept"}})
    cache.refresh(LogPosition(1, (1, "now")), touched_by([]))  # the log went back
    assert len(cache) == 0
