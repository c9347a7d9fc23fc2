"""SQL lineage: SQL text in, table and column lineage out (pure; built on sqlglot).

>>> from headwater.sql import analyze
>>> stmt = analyze("CREATE TABLE t AS SELECT SUM(q * p) AS revenue FROM s", dialect="duckdb").statements[0]
>>> stmt.outputs[0].name, [(i.field, i.transformations[0].subtype) for i in stmt.columns[0].inputs]
('t', [('p', 'AGGREGATION'), ('q', 'AGGREGATION')])
"""

from headwater.sql.analyze import SqlLineageError, analyze
from headwater.sql.model import (
    ColumnLineage,
    DatasetRef,
    InputField,
    ScriptLineage,
    SqlIssue,
    StatementLineage,
    Transformation,
)
from headwater.sql.schema import SchemaError

__all__ = [
    "ColumnLineage",
    "DatasetRef",
    "InputField",
    "SchemaError",
    "ScriptLineage",
    "SqlIssue",
    "SqlLineageError",
    "StatementLineage",
    "Transformation",
    "analyze",
]
