"""Lineage traversal over the store's graph primitives (no SQL, no HTTP).

Every traversal is breadth-first with one store call per level (so its cost is
proportional to the depth, not to the number of nodes), directed (upstream
follows data backwards, downstream forwards; unlike Marquez, ``both`` does not
wander sideways into siblings), cycle-safe (visited sets) and bounded (depth).
Depth counts jobs: depth 1 from a dataset reaches the jobs that read or write it
and their datasets.
"""

from headwater.graph.column import column_lineage
from headwater.graph.runs import upstream_runs
from headwater.graph.table import lineage

__all__ = ["column_lineage", "lineage", "upstream_runs"]
