"""Results of SQL lineage analysis: frozen, typed, convertible to OpenLineage facets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from headwater import PRODUCER

COLUMN_LINEAGE_SCHEMA = "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
SQL_SCHEMA = "https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet"

TransformationType = Literal["DIRECT", "INDIRECT"]
# Precedence when two DIRECT paths compose: the strongest wins.
DIRECT_RANK = {"IDENTITY": 0, "TRANSFORMATION": 1, "AGGREGATION": 2}


@dataclass(frozen=True, slots=True, order=True)
class DatasetRef:
    """A dataset named per OpenLineage naming."""

    namespace: str
    name: str

    def to_json(self) -> dict[str, str]:
        """``{"namespace", "name"}``."""
        return {"namespace": self.namespace, "name": self.name}


@dataclass(frozen=True, slots=True, order=True)
class Transformation:
    """One OpenLineage transformation of an input field into an output.

    Attributes:
        type: ``DIRECT`` (the value flows) or ``INDIRECT`` (it decides which rows/how).
        subtype: IDENTITY, TRANSFORMATION, AGGREGATION; or JOIN, GROUP_BY, FILTER, SORT, WINDOW, CONDITIONAL.
        description: the expression, as SQL.
        masking: the function hides the input value (hashes, redaction, counts).
    """

    type: TransformationType
    subtype: str
    description: str = ""
    masking: bool = False

    def to_json(self) -> dict[str, Any]:
        """The facet's transformation object."""
        return {
            "type": self.type,
            "subtype": self.subtype,
            "description": self.description,
            "masking": self.masking,
        }


@dataclass(frozen=True, slots=True)
class InputField:
    """An input column and how it is used."""

    dataset: DatasetRef
    field: str
    transformations: tuple[Transformation, ...]

    def to_json(self) -> dict[str, Any]:
        """The facet's input field object."""
        return {
            **self.dataset.to_json(),
            "field": self.field,
            "transformations": [t.to_json() for t in self.transformations],
        }


@dataclass(frozen=True, slots=True)
class ColumnLineage:
    """The inputs of one output column."""

    output: DatasetRef | None
    field: str
    inputs: tuple[InputField, ...]


@dataclass(frozen=True, slots=True)
class SqlIssue:
    """A problem in the SQL: a parse error or an unresolved reference.

    ``line``/``column`` are 1-based positions in the whole script (0 when unknown).
    """

    statement: int
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        where = f"statement {self.statement + 1}" + (
            f", line {self.line}, column {self.column}" if self.line else ""
        )
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class StatementLineage:
    """Lineage of one statement that writes (or selects) a dataset."""

    index: int
    sql: str
    kind: str
    dialect: str
    inputs: tuple[DatasetRef, ...]
    outputs: tuple[DatasetRef, ...]
    columns: tuple[ColumnLineage, ...]
    dataset_dependencies: tuple[InputField, ...]
    warnings: tuple[SqlIssue, ...] = field(default=())

    def column_lineage_facet(self) -> dict[str, Any]:
        """The OpenLineage ``columnLineage`` dataset facet (1-2-0) of the output."""
        return {
            "_producer": PRODUCER,
            "_schemaURL": COLUMN_LINEAGE_SCHEMA,
            "fields": {
                c.field: {"inputFields": [i.to_json() for i in c.inputs]} for c in self.columns
            },
            "dataset": [i.to_json() for i in self.dataset_dependencies],
        }

    def sql_facet(self) -> dict[str, Any]:
        """The OpenLineage ``sql`` job facet."""
        return {
            "_producer": PRODUCER,
            "_schemaURL": SQL_SCHEMA,
            "query": self.sql,
            "dialect": self.dialect,
        }

    def to_openlineage(self) -> dict[str, Any]:
        """``{"sql", "inputs", "outputs"}`` with the column lineage facet on each output."""
        facet = self.column_lineage_facet()
        return {
            "sql": self.sql,
            "inputs": [d.to_json() for d in self.inputs],
            "outputs": [{**d.to_json(), "facets": {"columnLineage": facet}} for d in self.outputs],
        }


@dataclass(frozen=True, slots=True)
class ScriptLineage:
    """Lineage of a whole script."""

    statements: tuple[StatementLineage, ...]
    errors: tuple[SqlIssue, ...]
    warnings: tuple[SqlIssue, ...]

    def to_openlineage(self) -> list[dict[str, Any]]:
        """One ``{"sql", "inputs", "outputs"}`` element per statement."""
        return [s.to_openlineage() for s in self.statements]
