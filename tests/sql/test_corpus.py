"""The accuracy corpus: exact expectations per case, and precision/recall over all of them."""

from __future__ import annotations

import pytest
from corpus import Case, load_cases

from headwater.sql import StatementLineage, analyze

CASES = load_cases()


def _norm(case: Case, text: str) -> str:
    return text if case.extra.get("case_sensitive") else text.lower()


def run(case: Case) -> tuple[StatementLineage | None, object]:
    result = analyze(
        case.sql, dialect=case.dialect, schema=case.schema, default_namespace="test://"
    )
    return (result.statements[-1] if result.statements else None), result


def actual_edges(case: Case, stmt: StatementLineage) -> tuple[set, set, set, dict]:
    direct, column_indirect, masking = set(), set(), {}
    for col in stmt.columns:
        out = _norm(case, col.field)
        for field in col.inputs:
            source = _norm(case, f"{field.dataset.name}.{field.field}")
            for t in field.transformations:
                if t.type == "DIRECT":
                    direct.add((out, source, t.subtype))
                    masking.setdefault(out, []).append(t.masking)
                else:
                    column_indirect.add((out, source, t.subtype))
    indirect = {
        (_norm(case, f"{f.dataset.name}.{f.field}"), t.subtype)
        for f in stmt.dataset_dependencies
        for t in f.transformations
    }
    return direct, column_indirect, indirect, masking


def expected(case: Case) -> tuple[set, set, set]:
    return (
        {(_norm(case, o), _norm(case, s), t) for o, s, t in case.direct},
        {(_norm(case, o), _norm(case, s), t) for o, s, t in case.column_indirect},
        {(_norm(case, s), t) for s, t in case.indirect},
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    stmt, result = run(case)
    assert len(result.errors) == case.errors, result.errors
    assert len(result.warnings) == case.warnings, result.warnings
    if "statements" in case.extra:
        assert len(result.statements) == case.extra["statements"]
    assert stmt is not None, "no statement analysed"
    if case.output:
        assert [_norm(case, o.name) for o in stmt.outputs] == [_norm(case, case.output)]
    else:
        assert stmt.outputs == () and stmt.kind == "select"
    assert {_norm(case, i.name) for i in stmt.inputs} == {_norm(case, i) for i in case.inputs}
    direct, column_indirect, indirect, masking = actual_edges(case, stmt)
    exp_direct, exp_column_indirect, exp_indirect = expected(case)
    assert direct == exp_direct
    assert exp_column_indirect <= column_indirect, exp_column_indirect - column_indirect
    assert indirect == exp_indirect
    for out, flags in masking.items():
        assert all(flags) == (out in {_norm(case, m) for m in case.masked}), out


def test_corpus_size_and_coverage() -> None:
    assert len(CASES) >= 150
    dialects = {c.dialect for c in CASES}
    assert {
        "spark",
        "duckdb",
        "postgres",
        "snowflake",
        "bigquery",
        "trino",
        "mysql",
        "redshift",
        "hive",
        "tsql",
    } <= dialects


def test_accuracy_targets() -> None:
    """Direct-edge F1 >= 0.98, indirect recall >= 0.95 (edges are (output, input field))."""
    tp = fp = fn = 0
    ind_found = ind_total = 0
    subtype_ok = subtype_total = 0
    for case in CASES:
        stmt, _ = run(case)
        if stmt is None:
            fn += len({(o, s) for o, s, _ in case.direct})
            continue
        direct, column_indirect, indirect, _ = actual_edges(case, stmt)
        exp_direct, exp_column_indirect, exp_indirect = expected(case)
        got = {(o, s) for o, s, _ in direct}
        want = {(o, s) for o, s, _ in exp_direct}
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
        for edge in got & want:
            subtype_total += 1
            subtype_ok += {t for o, s, t in direct if (o, s) == edge} == {
                t for o, s, t in exp_direct if (o, s) == edge
            }
        ind_total += len(exp_indirect) + len(exp_column_indirect)
        ind_found += len(exp_indirect & indirect) + len(exp_column_indirect & column_indirect)
    precision = tp / (tp + fp)
    recall = tp / (tp + fn)
    f1 = 2 * precision * recall / (precision + recall)
    print(
        f"direct P={precision:.3f} R={recall:.3f} F1={f1:.3f}; indirect recall={ind_found / ind_total:.3f}; subtype accuracy={subtype_ok / subtype_total:.3f}"
    )
    assert f1 >= 0.98
    assert ind_found / ind_total >= 0.95
    assert subtype_ok / subtype_total >= 0.95
