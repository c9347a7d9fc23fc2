import pytest
from fastapi.testclient import TestClient

from headwater.api import create_app
from headwater.api.auth import ApiKeys
from headwater.store import open_store


@pytest.fixture
def make_client(tmp_path):
    """Factory: an in-process client over a fresh SQLite store (or a given store), with optional API keys."""
    stores = []

    def make(keys=None, store=None):
        store = store or open_store(f"sqlite:///{tmp_path / f'api{len(stores)}.db'}")
        stores.append(store)
        return TestClient(create_app(store, api_keys=ApiKeys(keys or {})))

    yield make
    for s in stores:
        s.close()


@pytest.fixture
def client(make_client):
    return make_client()
