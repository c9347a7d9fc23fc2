import pytest

from factories import dataset, run_event


@pytest.fixture
def server_factory_url(server_factory):
    import httpx

    url = server_factory()
    for i in range(3):
        httpx.post(f"{url}/api/v1/lineage", json=run_event(job=f"j{i}", outputs=[dataset(f"t{i}")]))
    return url, 3
