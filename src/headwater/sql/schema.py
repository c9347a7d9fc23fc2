"""Turn a user's schema mapping into a sqlglot ``MappingSchema``.

Accepted shapes: ``{"table": {"col": "type"}}``, ``{"db.table": {...}}``,
``{"catalog.db.table": {...}}`` and nested ``{"db": {"table": {...}}}``, mixed
freely. Keys with fewer parts are completed with ``default_db`` /
``default_catalog`` so every table sits at the same depth, as sqlglot needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlglot import exp
from sqlglot.schema import MappingSchema


class SchemaError(ValueError):
    """A schema mapping that cannot be read."""


def _flatten(
    mapping: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], dict[str, str]]:
    tables: dict[tuple[str, ...], dict[str, str]] = {}
    for key, value in mapping.items():
        parts = prefix + tuple(p.strip('"`[]') for p in str(key).split("."))
        if not isinstance(value, Mapping):
            msg = f"schema entry {'.'.join(parts)!r} must map to an object of columns"
            raise SchemaError(msg)
        if value and all(isinstance(v, str) for v in value.values()):
            tables[parts] = {str(c): str(t) for c, t in value.items()}
        elif not value:
            tables[parts] = {}
        else:
            tables.update(_flatten(value, parts))
    return tables


def build_schema(
    mapping: Mapping[str, Any] | None,
    dialect: str,
    default_db: str | None = None,
    default_catalog: str | None = None,
) -> MappingSchema:
    """A ``MappingSchema`` for ``mapping`` (see module docstring)."""
    schema = MappingSchema(dialect=dialect)
    if not mapping:
        return schema
    tables = _flatten(mapping)
    depth = max(len(k) for k in tables)
    defaults = [d for d in (default_catalog, default_db) if d]
    for parts, columns in tables.items():
        missing = depth - len(parts)
        if missing > len(defaults):
            msg = (
                f"schema table {'.'.join(parts)!r} has {len(parts)} name part(s) but others have {depth}; "
                "qualify it or pass default_db/default_catalog"
            )
            raise SchemaError(msg)
        full = tuple(defaults[len(defaults) - missing :]) + parts if missing else parts
        table = exp.Table(
            this=exp.to_identifier(full[-1]),
            db=exp.to_identifier(full[-2]) if len(full) > 1 else None,
            catalog=exp.to_identifier(full[-3]) if len(full) > 2 else None,
        )
        schema.add_table(table, columns or {}, dialect=dialect)
    return schema
