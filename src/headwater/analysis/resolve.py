"""Turn what a person types (``products_source.cost``, ``orders``) into a node id.

A full node id (``dataset:NS:NAME``, ``datasetField:NS:NAME:FIELD``, ``job:NS:NAME``) is used as
is. Otherwise the text is matched against dataset names: equal, or ending with ``/TEXT`` or
``.TEXT`` (Iceberg locations, ``db.table`` names); ``TABLE.COLUMN`` also tries the last part as a
column. Several matches raise :class:`AmbiguousNode` with the candidates.
"""

from __future__ import annotations

from headwater.model.nodes import DatasetId, FieldId, NodeId, parse_node_id
from headwater.store.base import LineageStore, NotFound


class AmbiguousNode(NotFound):
    """Several datasets match; ``candidates`` lists their node ids."""

    def __init__(self, text: str, candidates: list[str]) -> None:
        self.candidates = candidates
        shown = ", ".join(candidates[:10]) + (" ..." if len(candidates) > 10 else "")
        super().__init__(
            f"{text!r} matches {len(candidates)} datasets: {shown}; pass a full node id"
        )


def _matches(store: LineageStore, table: str) -> list[DatasetId]:
    found = store.search(table, kind="DATASET", limit=1000)
    out = []
    for r in found["results"]:
        name: str = r["name"]
        if name == table or name.endswith(("/" + table, "." + table)):
            out.append(DatasetId(r["namespace"], name))
    return out


def resolve_node(store: LineageStore, text: str) -> NodeId:
    """The node ``text`` names (see module docstring).

    Raises:
        NotFound: nothing matches; AmbiguousNode: several datasets match.
    """
    if text.startswith(("dataset:", "datasetField:", "job:")):
        return parse_node_id(text)
    whole = _matches(store, text)
    if len(whole) == 1:
        return whole[0]
    if len(whole) > 1:
        raise AmbiguousNode(text, [d.node_id() for d in whole])
    table, sep, column = text.rpartition(".")
    if sep:
        candidates = [
            d
            for d in _matches(store, table)
            if column in {f["name"] for f in store.dataset_fields([d]).get(d, [])}
        ]
        if len(candidates) == 1:
            return FieldId(candidates[0], column)
        if len(candidates) > 1:
            raise AmbiguousNode(text, [FieldId(d, column).node_id() for d in candidates])
    msg = f"no dataset or column matches {text!r}"
    raise NotFound(msg)
