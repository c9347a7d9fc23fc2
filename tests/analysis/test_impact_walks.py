"""Column impact reports, built in one pass over the walk with chains and edges made on demand,
equal the report the edge-by-edge reference below builds from the same walk.

Random column graphs (cycles, edges within a dataset, INDIRECT steps and DIRECT ones that are not
first, several jobs into a field, ownership on some datasets and jobs, dataset names not in
creation order), walked through the in-memory index and in the database.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import pytest

from factories import RANDOM_FIELDS as FIELDS
from factories import random_column_event
from headwater.analysis import impact
from headwater.model import DatasetId, FieldId, JobId
from headwater.store.sql import SqlStore

DATASETS = ["d5", "d1", "d4", "d0", "d3", "d2"]  # created in this order: keys not in name order


def _short(dataset: DatasetId) -> str:
    return dataset.name.rstrip("/").rsplit("/", 1)[-1]


def reference(store: SqlStore, start: FieldId, depth: int) -> dict[str, Any]:
    """The report's JSON as the edge-by-edge code before the one-pass build made it."""
    reach = store.column_downstream((start.dataset, start.field), depth, None, ["ownership"])
    states_ = reach.states
    chains = [f"{_short(start.dataset)}.{start.field}"]
    label: dict[tuple[str, str, str], int] = {}
    jobs: set[str] = {f"{j.namespace}:{j.name}" for j in states_[0].jobs}
    for i in range(1, len(states_)):
        s = states_[i]
        steps = s.transformations
        desc = next((t.get("description") or "" for t in steps if t.get("type") == "DIRECT"), None)
        if desc is None:
            desc = (steps[0].get("description") or "") if steps else ""
        hop = f"{s.field} ({desc})" if desc and desc != s.field else s.field
        source = states_[s.via or 0].dataset
        if s.dataset != source:
            hop = f"{_short(s.dataset)}.{hop}"
        chains.append(f"{chains[s.via or 0]} -> {hop}")
        key = (s.dataset.namespace, s.dataset.name, s.field)
        seen = label.get(key)
        if seen is None or (s.direct and not states_[seen].direct):
            label[key] = i
        jobs.update(f"{j.namespace}:{j.name}" for j in s.jobs)
    affected = sorted(
        (
            (s.depth, s.dataset.namespace, s.dataset.name, s.field),
            {
                "namespace": s.dataset.namespace,
                "dataset": s.dataset.name,
                "field": s.field,
                "depth": s.depth,
                "kind": "DIRECT" if s.direct else "INDIRECT",
                "jobs": sorted(f"{j.namespace}:{j.name}" for j in s.jobs),
                "chain": chains[i],
            },
        )
        for i in label.values()
        for s in [states_[i]]
    )
    reached = {(ns, name) for ns, name, _ in label}
    owners: dict[str, set[str]] = defaultdict(set)
    for node, facets in reach.facets.items():
        if isinstance(node, DatasetId) and (node.namespace, node.name) not in reached:
            continue
        what = f"dataset {_short(node)}" if isinstance(node, DatasetId) else f"job {node.name}"
        for owner in facets["ownership"]["owners"]:
            owners[owner["name"]].add(what)
    ids = [f"datasetField:{s.dataset.namespace}:{s.dataset.name}:{s.field}" for s in states_]
    edges: dict[tuple[str, str], dict[str, Any]] = {}
    for i in range(1, len(states_)):
        s = states_[i]
        pair = (ids[s.via or 0], ids[i])
        direct = any(t.get("type") == "DIRECT" for t in s.transformations)
        if pair in edges and (edges[pair]["kind"] == "DIRECT" or not direct):
            continue
        job: JobId | None = s.jobs[0] if s.jobs else None
        edges[pair] = {
            "source": pair[0],
            "target": pair[1],
            "job": f"{job.namespace}:{job.name}" if job else "",
            "kind": "DIRECT" if direct else "INDIRECT",
        }
    return {
        "affected": [a for _, a in affected],
        "jobs": sorted(jobs),
        "owners": {k: sorted(v) for k, v in sorted(owners.items())},
        "edges": list(edges.values()),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("index", [True, False], ids=["index", "database"])
def test_reports_equal_the_reference_on_random_graphs(tmp_path, seed, index):
    rng = random.Random(seed)
    store = SqlStore(f"sqlite:///{tmp_path / 'g.db'}", column_index_edges=None if index else 0)
    store.upgrade()
    for at in range(24):
        store.ingest(
            random_column_event(
                rng, rng.randrange(9), at, DATASETS, ("pipelines", "pipelines.x"), True
            )
        )
    indirect = twins = 0
    for name in DATASETS:
        for field in FIELDS:
            node = FieldId(DatasetId("warehouse", name), field)
            for depth in (2, 20):
                expected = reference(store, node, depth)
                for change in (None, "type", "drop"):
                    report = impact(store, node, depth, change)
                    got = report.to_json()
                    assert {k: got[k] for k in expected} == expected
                    breaking = [
                        a for a in expected["affected"] if change != "type" or a["kind"] == "DIRECT"
                    ]
                    assert got["breaking"] == (breaking if change else [])
                    # read in another order: chains are the same whichever is built first
                    again = impact(store, node, depth, change)
                    assert [a.chain for a in reversed(again.affected)] == [
                        a["chain"] for a in reversed(expected["affected"])
                    ]
                kinds = {a["kind"] for a in expected["affected"]}
                indirect += "INDIRECT" in kinds
                states = store.column_downstream((node.dataset, node.field), depth).states
                twins += len(states) - 1 > len(expected["affected"])  # a field in both states
    assert indirect and twins  # the graphs are not trivial
    store.close()
