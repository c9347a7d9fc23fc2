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
