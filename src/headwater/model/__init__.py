"""The model layer: OpenLineage events and Headwater node ids. No I/O."""

from headwater.model.events import (
    EventParseError,
    EventValidationError,
    ValidatedEvent,
    parse_event,
)
from headwater.model.nodes import DatasetId, FieldId, JobId, NodeId, parse_node_id
from headwater.model.transformations import is_direct

__all__ = [
    "DatasetId",
    "EventParseError",
    "EventValidationError",
    "FieldId",
    "JobId",
    "NodeId",
    "ValidatedEvent",
    "is_direct",
    "parse_event",
    "parse_node_id",
]
