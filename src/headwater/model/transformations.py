"""The transformations of a column lineage edge (``columnLineage`` facet, ``inputFields[]``).

An edge lists one or more transformations, each with a ``type``: ``DIRECT`` when the output
value is computed from the input value (identity, arithmetic, aggregation), ``INDIRECT`` when the
input only decides which rows or groups there are (joins, filters, grouping, sorting). What a
change breaks depends on it: a type change breaks what a column's value flows into, a drop or
rename breaks both.
"""

from __future__ import annotations

from collections.abc import Iterable


def is_direct(transformations: Iterable[object]) -> bool:
    """Whether a column edge carries the value: any of its transformations is DIRECT.

    Any of them, not just the first: ``[FILTER (INDIRECT), TRANSFORMATION (DIRECT)]`` carries
    the value. Items that are not objects (a producer's ``null``) count as not DIRECT.

    Args:
        transformations: the edge's transformations as decoded JSON objects.

    Returns:
        True when at least one of them has ``"type": "DIRECT"``.

    >>> is_direct([{"type": "INDIRECT", "subtype": "FILTER"}, {"type": "DIRECT"}])
    True
    >>> is_direct([{"type": "INDIRECT", "subtype": "JOIN"}])
    False
    >>> is_direct([])
    False
    """
    return any(isinstance(step, dict) and step.get("type") == "DIRECT" for step in transformations)
