"""Analysis over the store's read interface (no SQL, no HTTP): impact of a change, and node resolution."""

from headwater.analysis.impact import ImpactReport, impact
from headwater.analysis.resolve import AmbiguousNode, resolve_node

__all__ = ["AmbiguousNode", "ImpactReport", "impact", "resolve_node"]
