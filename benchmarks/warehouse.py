"""A synthetic warehouse lineage graph as OpenLineage events (deterministic).

``layers`` layers of ``width`` datasets each; every dataset of layer k+1 is written by one job reading
1-3 datasets of layer k (fan-in), and a hub dataset in layer 0 is read by a share of layer-1 jobs
(fan-out), so its downstream grows to most of the graph. Each dataset has three columns, each output
column derived from input columns with OpenLineage transformations. With ``owned_share``, that share
of the jobs and of the datasets they write carry an ``ownership`` facet (one of five teams).
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from typing import Any

PRODUCER = "https://github.com/headwater-lineage/headwater/benchmarks"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
COLUMNS = ("id", "amount", "category")


def _ds(layer: int, i: int) -> str:
    return f"l{layer:02d}.t{i:05d}"


def _ownership(team: str) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": "x", "owners": [{"name": team, "type": "TEAM"}]}


def _dataset(
    name: str, cll: dict[str, Any] | None = None, owner: str | None = None
) -> dict[str, Any]:
    facets: dict[str, Any] = {
        "schema": {
            "_producer": PRODUCER,
            "_schemaURL": "x",
            "fields": [{"name": c, "type": "string"} for c in COLUMNS],
        }
    }
    if cll:
        facets["columnLineage"] = cll
    if owner:
        facets["ownership"] = _ownership(owner)
    return {"namespace": "warehouse", "name": name, "facets": facets}


def build(
    layers: int, width: int, seed: int = 1, hub_share: float = 0.5, owned_share: float = 0.0
) -> tuple[list[dict[str, Any]], dict[str, set[str]]]:
    """Events (one COMPLETE per job) and the table-level downstream adjacency (dataset -> datasets)."""
    rng = random.Random(seed)
    owners = random.Random(seed + 1)  # its own stream: the graph does not depend on owned_share
    events = []
    downstream: dict[str, set[str]] = defaultdict(set)
    hub = _ds(0, 0)
    for layer in range(1, layers):
        for i in range(width):
            out = _ds(layer, i)
            ins = {_ds(layer - 1, rng.randrange(width)) for _ in range(rng.randint(1, 3))}
            if layer == 1 and rng.random() < hub_share:
                ins.add(hub)
            ins_sorted = sorted(ins)
            cll = {
                "_producer": PRODUCER,
                "_schemaURL": "x",
                "fields": {
                    c: {
                        "inputFields": [
                            {
                                "namespace": "warehouse",
                                "name": n,
                                "field": c,
                                "transformations": [
                                    {
                                        "type": "DIRECT",
                                        "subtype": "TRANSFORMATION",
                                        "description": "",
                                        "masking": False,
                                    }
                                ],
                            }
                            for n in ins_sorted
                        ]
                    }
                    for c in COLUMNS
                },
            }
            for n in ins_sorted:
                downstream[n].add(out)
            owner = f"team-{owners.randrange(5)}" if owners.random() < owned_share else None
            job_facets = {"ownership": _ownership(owner)} if owner else {}
            events.append(
                {
                    "eventType": "COMPLETE",
                    "eventTime": f"2025-01-17T00:{layer:02d}:{i % 60:02d}.{i:06d}Z",
                    "producer": PRODUCER,
                    "schemaURL": SCHEMA_URL,
                    "run": {
                        "runId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                        "facets": {},
                    },
                    "job": {"namespace": "etl", "name": f"job_{out}", "facets": job_facets},
                    "inputs": [_dataset(n) for n in ins_sorted],
                    "outputs": [_dataset(out, cll, owner)],
                }
            )
    return events, downstream


def upstream_of(downstream: dict[str, set[str]]) -> dict[str, set[str]]:
    """Reverse an adjacency."""
    up: dict[str, set[str]] = defaultdict(set)
    for a, bs in downstream.items():
        for b in bs:
            up[b].add(a)
    return up


def bfs(adjacency: dict[str, set[str]], start: str, depth: int) -> set[str]:
    """In-memory breadth-first search (the baseline)."""
    seen = {start}
    frontier = [start]
    for _ in range(depth):
        nxt = []
        for node in frontier:
            for n in adjacency.get(node, ()):
                if n not in seen:
                    seen.add(n)
                    nxt.append(n)
        frontier = nxt
        if not frontier:
            break
    return seen


def dataset_name(layer: int, i: int) -> str:
    """The name of dataset ``i`` of ``layer``."""
    return _ds(layer, i)
