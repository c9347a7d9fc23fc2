"""The engine's API: errors with positions, warnings, facets valid against the OpenLineage schema, caching."""

import json
from pathlib import Path

import jsonschema
import pytest

from headwater.sql import SchemaError, SqlLineageError, analyze


def test_parse_error_names_statement_and_position_and_spares_others():
    script = "CREATE TABLE a AS SELECT x FROM s;\nCREATE TABLE b AS SELECT FROM WHERE (;\nCREATE TABLE c AS SELECT y FROM s"
    result = analyze(script, dialect="duckdb")
    assert [s.outputs[0].name for s in result.statements] == ["a", "c"]
    (error,) = result.errors
    assert error.statement == 1 and error.line == 2
    assert str(error).startswith("statement 2, line 2, column")


def test_unterminated_string_is_an_error_not_a_crash():
    result = analyze("SELECT 'abc FROM t; SELECT a FROM b", dialect="duckdb")
    assert result.errors


def test_bad_arguments():
    with pytest.raises(SqlLineageError, match="dialect"):
        analyze("SELECT 1", dialect="nosuchdialect")
    with pytest.raises(SqlLineageError):
        analyze("SELECT 1", schema={"a": {"b": 1}})
    with pytest.raises(SqlLineageError, match="name part"):
        analyze("SELECT 1", schema={"t": {"a": "int"}, "db.u": {"b": "int"}})
    assert issubclass(SchemaError, ValueError)


def test_mixed_depth_schema_with_default_db():
    result = analyze(
        "CREATE TABLE x AS SELECT * FROM t JOIN sales.u ON t.a = u.b",
        schema={"t": {"a": "int"}, "sales.u": {"b": "int"}},
        default_db="sales",
    )
    (stmt,) = result.statements
    assert [c.field for c in stmt.columns] == ["a", "b"]
    assert {i.name for i in stmt.inputs} == {"sales.t", "sales.u"}


def test_facets_validate_against_openlineage_schema(shared_dir: Path):
    facet_schema = json.loads(
        (shared_dir / "openlineage-spec" / "facets" / "ColumnLineageDatasetFacet.json").read_text()
    )
    core = json.loads((shared_dir / "openlineage-spec" / "OpenLineage.json").read_text())
    registry = {core["$id"]: core}
    from referencing import Registry, Resource

    reg = Registry().with_resources([(k, Resource.from_contents(v)) for k, v in registry.items()])
    stmt = analyze(
        "CREATE TABLE t AS SELECT c.state, SUM(o.quantity) AS q FROM orders o JOIN customers c ON o.customer_id = c.customer_id GROUP BY c.state",
        schema={
            "orders": {"customer_id": "int", "quantity": "int"},
            "customers": {"customer_id": "int", "state": "text"},
        },
    ).statements[0]
    facet = stmt.column_lineage_facet()
    validator = jsonschema.Draft202012Validator(
        {**facet_schema, "$ref": "#/$defs/ColumnLineageDatasetFacet"}, registry=reg
    )
    validator.validate(facet)
    assert facet["dataset"]
    openlineage = stmt.to_openlineage()
    assert openlineage["outputs"][0]["facets"]["columnLineage"] == facet
    assert stmt.sql_facet()["query"].startswith("CREATE TABLE t")


def test_repeated_statements_are_cached():
    sql = "CREATE TABLE t AS SELECT a FROM s"
    assert analyze(sql) is analyze(sql)
    assert analyze(sql) is not analyze(sql, dialect="spark")


def test_namespace_and_defaults():
    stmt = analyze(
        "INSERT INTO t SELECT a FROM s",
        dialect="postgres",
        default_namespace="postgres://db:5432",
        default_catalog="shop",
        default_db="public",
    ).statements[0]
    assert stmt.outputs[0].namespace == "postgres://db:5432"
    assert stmt.outputs[0].name == "shop.public.t"
    assert stmt.inputs[0].name == "shop.public.s"
