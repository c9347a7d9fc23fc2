"""Search queries built without a connection (:mod:`headwater.store.search`)."""

from types import SimpleNamespace

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from headwater.store.search import _snippet, search_queries, search_result


def test_no_query_when_no_kind_of_result_can_match_there():
    assert search_queries("sqlite", "x", {"FIELD"}, ["sql"], None, "NAME", 10) is None
    assert search_queries("sqlite", "x", {"DATASET"}, ["sql"], None, "NAME", 10) is None


@pytest.mark.parametrize(("name", "dialect"), [("sqlite", sqlite), ("postgresql", postgresql)])
def test_the_text_searched_for_is_a_parameter_never_part_of_the_sql(name, dialect):
    typed = "o'rders%_; DROP TABLE events"
    queries = search_queries(
        name,
        typed,
        {"DATASET", "JOB", "FIELD"},
        ["name", "column", "tag", "owner", "sql"],
        "warehouse",
        "RELEVANCE",
        10,
    )
    assert queries is not None
    for statement in queries:
        compiled = statement.compile(dialect=dialect.dialect())
        assert "DROP TABLE" not in str(compiled) and "rders" not in str(compiled)
        assert any("rders" in str(v) for v in compiled.params.values())


def test_a_sql_match_shows_the_line_that_holds_it():
    sql = "SELECT id,\n       SUM(amount) AS revenue\nFROM orders"
    assert _snippet(sql, "REVENUE") == "SUM(amount) AS revenue"
    long = " ".join(["SELECT", ", ".join(f"c{i}" for i in range(100)), "FROM", "orders_total"])
    cut = _snippet(long, "orders_total", width=40)
    assert cut is not None and cut.startswith("…") and "orders_total" in cut and len(cut) <= 42


def test_a_result_names_its_node_and_only_says_where_it_matched_when_asked():
    row = SimpleNamespace(
        kind="FIELD",
        namespace="warehouse",
        name="orders",
        field="amount",
        updated_at=None,
        matched="column",
        detail="DECIMAL",
    )
    plain = search_result(row, "amo", extended=False)
    assert plain == {
        "type": "FIELD",
        "name": "amount",
        "updatedAt": None,
        "namespace": "warehouse",
        "nodeId": "datasetField:warehouse:orders:amount",
    }
    extended = search_result(row, "amo", extended=True)
    assert extended["dataset"] == "orders" and extended["matched"] == "column"
    assert extended["detail"] == "DECIMAL"
