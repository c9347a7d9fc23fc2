"""Node ids: ``dataset:NS:NAME``, ``job:NS:NAME`` and ``datasetField:NS:NAME:FIELD``.

These are Marquez's node ids. OpenLineage namespaces are often URIs that hold
colons themselves (``postgres://db.example.com:5432``), so ``NS:NAME`` is split
by this rule:

* when the text starts with ``scheme://``, the namespace is ``scheme://`` plus the
  authority (everything up to the next ``:`` or ``/``) plus an optional numeric
  ``:port``; the name follows the next ``:``;
* otherwise the namespace ends at the first ``:``.

For ``datasetField`` ids the field is the part after the last ``:``.

>>> parse_node_id("dataset:postgres://db:5432:public.orders")
DatasetId(namespace='postgres://db:5432', name='public.orders')
>>> parse_node_id("datasetField:file:/tmp/t:col")
FieldId(dataset=DatasetId(namespace='file', name='/tmp/t'), field='col')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_URI_NAMESPACE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://[^:/]*(?::\d+)?):(.+)$", re.DOTALL)


class InvalidNodeId(ValueError):
    """A node id that does not follow ``dataset:NS:NAME``, ``job:NS:NAME`` or ``datasetField:NS:NAME:FIELD``."""


@dataclass(frozen=True, slots=True, order=True)
class DatasetId:
    """A dataset, identified by OpenLineage namespace and name."""

    namespace: str
    name: str

    def node_id(self) -> str:
        """The Marquez node id, ``dataset:NS:NAME``."""
        return f"dataset:{self.namespace}:{self.name}"


@dataclass(frozen=True, slots=True, order=True)
class JobId:
    """A job, identified by OpenLineage namespace and name."""

    namespace: str
    name: str

    def node_id(self) -> str:
        """The Marquez node id, ``job:NS:NAME``."""
        return f"job:{self.namespace}:{self.name}"


@dataclass(frozen=True, slots=True, order=True)
class FieldId:
    """A column (field) of a dataset."""

    dataset: DatasetId
    field: str

    def node_id(self) -> str:
        """The Marquez node id, ``datasetField:NS:NAME:FIELD``."""
        return f"datasetField:{self.dataset.namespace}:{self.dataset.name}:{self.field}"


NodeId = DatasetId | JobId | FieldId


def _split_namespace(text: str, original: str) -> tuple[str, str]:
    match = _URI_NAMESPACE.match(text)
    if match:
        namespace, name = match.group(1), match.group(2)
    else:
        namespace, sep, name = text.partition(":")
        if not sep:
            msg = f"node id {original!r} has no ':' between namespace and name"
            raise InvalidNodeId(msg)
    if not namespace or not name:
        msg = f"node id {original!r} has an empty namespace or name"
        raise InvalidNodeId(msg)
    return namespace, name


def parse_node_id(value: str) -> NodeId:
    """Parse a Marquez-style node id.

    Args:
        value: ``dataset:NS:NAME``, ``job:NS:NAME`` or ``datasetField:NS:NAME:FIELD``.

    Returns:
        A :class:`DatasetId`, :class:`JobId` or :class:`FieldId`.

    Raises:
        InvalidNodeId: the text is not a node id of a known kind.
    """
    kind, sep, rest = value.partition(":")
    if not sep or not rest:
        msg = f"node id {value!r} must look like dataset:NS:NAME, job:NS:NAME or datasetField:NS:NAME:FIELD"
        raise InvalidNodeId(msg)
    if kind == "dataset":
        return DatasetId(*_split_namespace(rest, value))
    if kind == "job":
        return JobId(*_split_namespace(rest, value))
    if kind == "datasetField":
        dataset_part, sep, field = rest.rpartition(":")
        if not sep or not field:
            msg = f"node id {value!r} must end with ':FIELD'"
            raise InvalidNodeId(msg)
        return FieldId(DatasetId(*_split_namespace(dataset_part, value)), field)
    msg = f"node id {value!r} has unknown kind {kind!r}; expected dataset, job or datasetField"
    raise InvalidNodeId(msg)
