import pytest

from headwater.capture.iceberg import open_catalog
from headwater.store import open_store


@pytest.fixture
def workspace(tmp_path):
    """A fresh Iceberg SQL catalog and lineage store under tmp_path."""
    store = open_store(f"sqlite:///{tmp_path / 'headwater.db'}")
    catalog = open_catalog(tmp_path / "catalog")
    yield catalog, store
    store.close()
