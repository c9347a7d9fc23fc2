"""The facet shape checks: the fast answer (``ok``) and the path-naming walk agree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headwater.model import facets as F

# JSON values biased towards the keys the standard facets read, so the checks go deep.
KEYS = st.sampled_from(
    [
        "name",
        "type",
        "fields",
        "inputFields",
        "namespace",
        "field",
        "transformations",
        "masking",
        "datasetVersion",
        "query",
        "owners",
        "assertions",
        "success",
        "dataset",
        "a",
    ]
)
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=3)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=25,
)
CHECKS = {
    **{f"dataset.{k}": v for k, v in F.DATASET_FACETS.items()},
    **{f"job.{k}": v for k, v in F.JOB_FACETS.items()},
    **{f"run.{k}": v for k, v in F.RUN_FACETS.items()},
}


@pytest.mark.parametrize("name", sorted(CHECKS))
@settings(max_examples=150, deadline=None)
@given(value=JSON)
def test_ok_is_true_exactly_when_check_passes(name, value):
    check = CHECKS[name]
    try:
        check.check(value, "$")
    except F.FacetShapeError as exc:
        assert not check.ok(value)
        assert exc.path.startswith("$")
    else:
        assert check.ok(value)


@pytest.mark.parametrize("name", sorted(CHECKS))
@settings(max_examples=200, deadline=None)
@given(value=JSON)
def test_the_compiled_ok_answers_as_the_walk_does(name, value):
    """Each standard facet's ``ok`` is generated code (every nested check inlined); it must
    answer exactly as the checks' own walk."""
    check = CHECKS[name]
    assert "ok" in vars(check)  # compiled at import
    assert check.ok(value) == type(check).ok(check, value)
    assert check.ok({"fields": [value], "owners": [value], "run": value}) == type(check).ok(
        check, {"fields": [value], "owners": [value], "run": value}
    )


def test_compiled_checks_refuse_what_the_walk_refuses_deep_down():
    schema = F.DATASET_FACETS["schema"]
    deep = {"fields": [{"name": "a", "fields": [{"name": "b", "fields": [{"type": 5}]}]}]}
    assert not schema.ok(deep) and not type(schema).ok(schema, deep)
    deep["fields"][0]["fields"][0]["fields"][0]["type"] = "int"
    assert schema.ok(deep)
    lineage = F.DATASET_FACETS["columnLineage"]
    bad = {"fields": {"a": {"inputFields": [{"transformations": [{"masking": 1}]}]}}}
    assert not lineage.ok(bad)  # 1 is not a boolean
    bad["fields"]["a"]["inputFields"][0]["transformations"][0]["masking"] = True
    assert lineage.ok(bad)
    assert not F.DATASET_FACETS["version"].ok({"datasetVersion": False})


def test_a_bool_is_not_a_number_and_a_number_is_not_a_string():
    assert not F.SCALAR.ok(True)
    assert F.SCALAR.ok(3) and F.SCALAR.ok("v3") and F.SCALAR.ok(None)
    assert not F.STR.ok(3) and F.BOOL.ok(False) and not F.BOOL.ok(0)


def test_nested_schema_fields_are_checked_at_any_depth():
    schema = F.DATASET_FACETS["schema"]
    deep = {"fields": [{"name": "a", "fields": [{"name": "b", "fields": [{"type": 5}]}]}]}
    with pytest.raises(F.FacetShapeError) as err:
        schema.check(deep, "$.schema")
    assert err.value.path == "$.schema.fields[0].fields[0].fields[0].type"
