"""Loader for the SQL lineage corpus (``tests/sql/corpus/*.yaml``).

Each file holds a list of cases::

    - title: join with aggregation
      dialects: [duckdb, spark]          # one case per dialect
      schema: {...}                      # optional; DEFAULT_SCHEMA otherwise
      sql: CREATE TABLE t AS SELECT ...
      output: t                          # expected output dataset name (omit for SELECT)
      inputs: [orders, customers]        # expected input dataset names
      columns:                           # expected DIRECT edges, and column-specific INDIRECT ones
        total: [orders.quantity AGGREGATION, products.price AGGREGATION]
      indirect: [orders.customer_id JOIN]   # expected dataset-level INDIRECT edges
      masked: [total_orders]             # output columns whose DIRECT edges mask
      warnings: 1                        # expected number of warnings (default 0)
      errors: 1                          # expected number of errors (default 0)

An edge is ``table.field SUBTYPE``; the type follows from the subtype.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CORPUS = Path(__file__).parent / "corpus"
DIRECT = {"IDENTITY", "TRANSFORMATION", "AGGREGATION"}

DEFAULT_SCHEMA = {
    "orders": {
        "order_id": "int",
        "customer_id": "int",
        "product_id": "int",
        "quantity": "int",
        "order_date": "date",
        "status": "varchar",
    },
    "customers": {
        "customer_id": "int",
        "first_name": "varchar",
        "last_name": "varchar",
        "email": "varchar",
        "state": "varchar",
    },
    "products": {
        "product_id": "int",
        "product_name": "varchar",
        "category": "varchar",
        "price": "double",
        "cost": "double",
    },
    "events": {"user_id": "int", "payload": "json", "ts": "timestamp", "tags": "array<varchar>"},
    "staging": {"order_id": "int", "customer_id": "int", "amount": "double"},
}


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    dialect: str
    sql: str
    schema: dict[str, Any] | None
    output: str | None
    inputs: frozenset[str]
    direct: frozenset[tuple[str, str, str]]  # (out column, table.field, subtype)
    column_indirect: frozenset[tuple[str, str, str]]
    indirect: frozenset[tuple[str, str]]  # (table.field, subtype)
    masked: frozenset[str]
    warnings: int
    errors: int
    extra: dict[str, Any] = field(default_factory=dict)


def _edge(text: str) -> tuple[str, str]:
    source, _, subtype = text.strip().rpartition(" ")
    return source.strip(), subtype.strip().upper()


def load_cases() -> list[Case]:
    cases = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for n, raw in enumerate(yaml.safe_load(path.read_text())):
            dialects = raw.get("dialects") or [raw.get("dialect", "duckdb")]
            direct, column_indirect = set(), set()
            for column, edges in (raw.get("columns") or {}).items():
                for e in edges or []:
                    source, subtype = _edge(e)
                    (direct if subtype in DIRECT else column_indirect).add(
                        (str(column), source, subtype)
                    )
            for dialect in dialects:
                cases.append(
                    Case(
                        id=f"{path.stem}-{n}-{dialect}",
                        title=raw["title"],
                        dialect=dialect,
                        sql=raw["sql"],
                        schema=raw.get("schema", DEFAULT_SCHEMA)
                        if raw.get("schema") != "none"
                        else None,
                        output=raw.get("output"),
                        inputs=frozenset(raw.get("inputs") or []),
                        direct=frozenset(direct),
                        column_indirect=frozenset(column_indirect),
                        indirect=frozenset(_edge(e) for e in raw.get("indirect") or []),
                        masked=frozenset(raw.get("masked") or []),
                        warnings=int(raw.get("warnings", 0)),
                        errors=int(raw.get("errors", 0)),
                        extra=raw,
                    )
                )
    return cases
