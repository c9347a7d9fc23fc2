"""Pieces of :mod:`headwater.store.ingest` that must agree with the standard library."""

import uuid

from hypothesis import given
from hypothesis import strategies as st

from headwater.store.ingest import VERSION_NS, version_uuid


@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",))), max_size=6))
def test_version_ids_are_the_uuid5_of_the_joined_parts(parts):
    assert version_uuid(*parts) == str(uuid.uuid5(VERSION_NS, "\x1f".join(parts)))
