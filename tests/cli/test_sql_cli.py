import json

from typer.testing import CliRunner

from headwater.cli.main import app

runner = CliRunner()
SQL = "CREATE TABLE mart AS SELECT c.state, SUM(o.quantity) AS items FROM orders o JOIN customers c ON o.customer_id = c.customer_id GROUP BY c.state"


def test_table_output(tmp_path):
    f = tmp_path / "q.sql"
    f.write_text(SQL)
    result = runner.invoke(app, ["sql", "lineage", str(f), "--dialect", "duckdb"])
    assert result.exit_code == 0
    assert (
        "items" in result.output
        and "orders.quantity" in result.output
        and "AGGREGATION" in result.output
    )


def test_openlineage_output_with_schema(tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "orders": {"customer_id": "int", "quantity": "int"},
                "customers": {"customer_id": "int", "state": "text"},
            }
        )
    )
    result = runner.invoke(
        app,
        [
            "sql",
            "lineage",
            "-",
            "--schema",
            str(schema),
            "--namespace",
            "duckdb://",
            "-f",
            "openlineage",
        ],
        input=SQL,
    )
    assert result.exit_code == 0
    (stmt,) = json.loads(result.stdout)
    assert stmt["outputs"][0]["name"] == "mart"
    fields = stmt["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert {i["name"] for i in fields["items"]["inputFields"]} == {"orders", "customers"}


def test_dot_and_errors(tmp_path):
    result = runner.invoke(app, ["sql", "lineage", "-", "-f", "dot"], input=SQL)
    assert (
        result.stdout.startswith("digraph") and '"orders.quantity" -> "mart.items"' in result.stdout
    )
    bad = runner.invoke(app, ["sql", "lineage", "-"], input="SELECT FROM WHERE (")
    assert (
        bad.exit_code == 1 and "error: statement 1" in bad.output and "Traceback" not in bad.output
    )
    missing = runner.invoke(app, ["sql", "lineage", str(tmp_path / "nope.sql")])
    assert missing.exit_code == 1 and "No such file" in missing.output
    dialect = runner.invoke(app, ["sql", "lineage", "-", "--dialect", "klingon"], input="SELECT 1")
    assert dialect.exit_code == 1 and "klingon" in dialect.output


def test_schemas_from_the_store(tmp_path):
    from factories import dataset, run_event
    from headwater.store import open_store

    db = f"sqlite:///{tmp_path / 's.db'}"
    store = open_store(db)
    store.ingest(
        run_event(outputs=[dataset("orders", namespace="duckdb://", fields=["order_id", "amount"])])
    )
    store.close()
    without = runner.invoke(
        app,
        ["sql", "lineage", "-", "-f", "openlineage"],
        input="CREATE TABLE t AS SELECT * FROM orders",
    )
    assert json.loads(without.stdout)[0]["outputs"][0]["facets"]["columnLineage"]["fields"] == {}
    with_store = runner.invoke(
        app,
        [
            "sql",
            "lineage",
            "-",
            "-f",
            "openlineage",
            "--store-schemas",
            "--namespace",
            "duckdb://",
            "--db",
            db,
        ],
        input="CREATE TABLE t AS SELECT * FROM orders",
    )
    assert set(
        json.loads(with_store.stdout)[0]["outputs"][0]["facets"]["columnLineage"]["fields"]
    ) == {"order_id", "amount"}
