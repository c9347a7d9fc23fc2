import pyarrow as pa
import pytest

from headwater.pipelines.checks import condition, run_checks
from headwater.pipelines.spec import Check

DATA = pa.table(
    {"id": [1, 2, 2, None], "amount": [5.0, -1.0, 20.0, 3.0], "status": ["a", "b", "z", "a"]}
)


def test_each_kind_counts_violations():
    checks = (
        Check("not_null", column="id"),
        Check("unique", column="id"),
        Check("row_count", options={"min": 1, "max": 3}),
        Check("sql", expression="amount > 0"),
        Check("range", column="amount", options={"column": "amount", "min": 0, "max": 10}),
        Check(
            "accepted_values", column="status", options={"column": "status", "values": ["a", "b"]}
        ),
    )
    results = {r.check: (r.success, r.detail) for r in run_checks("t", DATA, checks)}
    assert results == {
        "not_null(id)": (False, "1 null values"),
        "unique(id)": (False, "1 duplicate values"),
        "row_count": (False, "4 rows"),
        "amount > 0": (False, "1 rows violate it"),
        "range(amount)": (False, "2 values out of range"),
        "accepted_values(status)": (False, "1 unexpected values"),
    }
    ok = run_checks(
        "t", DATA, (Check("sql", expression="amount > -5"), Check("row_count", options={"min": 4}))
    )
    assert all(r.success for r in ok)


def test_a_check_cannot_smuggle_a_statement():
    with pytest.raises(ValueError, match="not a SQL boolean expression"):
        condition("1=1; DROP TABLE t")
    with pytest.raises(ValueError):
        condition("SELECT 1")


def test_freshness_and_references():
    from datetime import UTC, date, datetime

    orders = pa.table(
        {
            "order_id": [1, 2, 3],
            "customer_id": [10, 11, 99],
            "order_date": [date(2025, 1, 15), date(2025, 1, 16), date(2025, 1, 17)],
        }
    )
    customers = pa.table({"customer_id": [10, 11, 12]})
    checks = (
        Check("freshness", column="order_date", options={"max_age": "2d"}),
        Check(
            "references",
            column="customer_id",
            options={"table": "customers", "field": "customer_id"},
        ),
    )
    fresh_now = datetime(2025, 1, 18, 12, tzinfo=UTC)
    results = {
        r.check: (r.success, r.detail)
        for r in run_checks(
            "orders", orders, checks, {"customers": customers}.__getitem__, fresh_now
        )
    }
    assert results["freshness(order_date)"][0] is True
    assert results["references(customer_id)"] == (False, "1 values not in customers.customer_id")
    late = run_checks("orders", orders, checks[:1], now=datetime(2025, 1, 25, tzinfo=UTC))
    assert late[0].success is False and "7.0 days old" in late[0].detail
    blind = run_checks("orders", orders, checks[1:])  # no way to read the other table
    assert blind[0].success is False and "cannot read customers" in blind[0].detail


def test_check_specs_are_validated(tmp_path):
    from headwater.pipelines.spec import PipelineError, _check

    assert _check({"freshness": {"column": "d", "max_age": "3d"}}, "x").kind == "freshness"
    with pytest.raises(PipelineError, match="max_age"):
        _check({"freshness": {"column": "d", "max_age": "soon"}}, "x")
    with pytest.raises(PipelineError, match="column, table, field"):
        _check({"references": {"column": "c"}}, "x")
