"""The one DIRECT-edge predicate, and the index's JSON-text form of it, agree."""

import itertools

import orjson
import pytest

from headwater.model import is_direct
from headwater.store.column_index import has_direct

STEPS = [
    {"type": "DIRECT", "subtype": "IDENTITY"},
    {"type": "INDIRECT", "subtype": "FILTER"},
    {"type": "INDIRECT", "subtype": "JOIN", "description": "DIRECT"},  # the word, not the type
    {"subtype": "AGGREGATION"},  # no type
    None,  # a producer's null
]


def test_any_transformation_counts_not_just_the_first():
    assert is_direct([STEPS[1], STEPS[0]])
    assert not is_direct([STEPS[1], STEPS[2]])
    assert not is_direct([])
    assert not is_direct([None, STEPS[3]])


@pytest.mark.parametrize("size", [0, 1, 2, 3])
def test_the_json_text_form_answers_the_same(size):
    for steps in itertools.product(STEPS, repeat=size):
        text = orjson.dumps(list(steps)).decode()
        first = steps[0]["type"] if steps and steps[0] and "type" in steps[0] else None
        assert has_direct(first, text) == is_direct(steps), steps
