"""Run-level lineage: the exact upstream runs and dataset versions that fed a run.

Shape of Marquez's ``/api/v1/runlineage/upstream``:
``{"runs": [{"job": {namespace,name,version}, "run": {id,start,end,status}, "inputs": [{namespace,name,version,producedByRunId}]}]}``.
"""

from __future__ import annotations

from typing import Any

from headwater.store.base import LineageStore

Json = dict[str, Any]


def upstream_runs(store: LineageStore, run_id: str, depth: int = 20) -> Json:
    """The run and, recursively, the runs that produced the dataset versions it read.

    Args:
        store: the lineage store.
        run_id: the run to start from.
        depth: how many producing runs back to go.

    Raises:
        NotFound: unknown run.
    """
    result: list[Json] = []
    seen = {run_id}
    frontier = [run_id]
    for _ in range(depth + 1):
        if not frontier:
            break
        nxt: list[str] = []
        for rid in frontier:
            run = store.get_run(rid)
            inputs = store.run_inputs_upstream(rid)
            result.append(
                {
                    "job": run["jobVersion"],
                    "run": {
                        "id": rid,
                        "start": run["startedAt"],
                        "end": run["endedAt"],
                        "status": run["state"],
                    },
                    "inputs": [
                        {
                            "namespace": i["dataset"].namespace,
                            "name": i["dataset"].name,
                            "version": i["version"],
                            "producedByRunId": i["producer_run"],
                        }
                        for i in inputs
                    ],
                }
            )
            for i in inputs:
                producer = i["producer_run"]
                if producer and producer not in seen:
                    seen.add(producer)
                    nxt.append(producer)
        frontier = nxt
    return {"runs": result}
