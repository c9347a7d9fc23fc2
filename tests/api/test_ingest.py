import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factories import dataset, run_event


def test_post_event_201_and_idempotent(client):
    event = run_event(outputs=[dataset("t", fields=["a"])])
    first = client.post("/api/v1/lineage", json=event)
    assert first.status_code == 201 and first.json()["duplicate"] is False
    again = client.post("/api/v1/lineage", json=event)
    assert again.status_code == 201 and again.json()["duplicate"] is True
    assert client.get("/api/v1/events/lineage").json()["totalCount"] == 1


def test_gzip(client):
    body = gzip.compress(json.dumps(run_event()).encode())
    r = client.post(
        "/api/v1/lineage",
        content=body,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert r.status_code == 201
    bad = client.post("/api/v1/lineage", content=b"not gzip", headers={"Content-Encoding": "gzip"})
    assert bad.status_code == 400 and "gzip" in bad.json()["message"]


def test_malformed_json_is_400_invalid_is_422(client):
    r = client.post(
        "/api/v1/lineage", content=b'{"eventTime": ', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and "malformed JSON" in r.json()["message"]
    event = run_event()
    event["eventType"] = "FINISHED"
    r = client.post("/api/v1/lineage", json=event)
    assert r.status_code == 422
    assert r.json()["path"] == "$.eventType"
    assert client.get("/api/v1/events/lineage").json()["totalCount"] == 0


def test_batch_summary(client):
    good = run_event()
    bad = run_event()
    del bad["job"]["name"]
    r = client.post("/api/v1/lineage/batch", json=[good, bad, 7, good])
    assert r.status_code == 207
    body = r.json()
    assert body["received"] == 4 and body["successful"] == 2 and body["failed"] == 2
    assert body["failedEvents"] == [
        {"index": 1, "path": "$[1].job.name", "reason": "is required"},
        {"index": 2, "path": "$[2]", "reason": "an event must be a JSON object"},
    ]
    assert client.get("/api/v1/events/lineage").json()["totalCount"] == 1
    assert client.post("/api/v1/lineage/batch", json={"not": "a list"}).status_code == 422
    assert client.post("/api/v1/lineage/batch", json=[run_event()]).status_code == 200


def test_batch_with_values_orjson_refuses(make_client, tmp_path):
    """NaN and integers beyond 64 bits are JSON that Python accepts: a batch holding them is
    parsed the slow way and stored faithfully (content hash and chain stay verifiable)."""
    from headwater.store import open_store
    from headwater.store.audit import verify_chain

    store = open_store(f"sqlite:///{tmp_path / 'odd.db'}")
    client = make_client(store=store)
    stats = {"_producer": "p", "_schemaURL": "s", "big": 2**70, "ratio": float("nan")}
    odd = run_event(job="odd", run_facets={"stats": stats})
    body = "[" + json.dumps(odd) + "," + json.dumps(run_event(job="plain")) + "]"
    r = client.post(
        "/api/v1/lineage/batch", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["successful"] == 2
    exported = b"".join(store.export_events()).decode()
    assert str(2**70) in exported and "NaN" in exported  # the stored bytes, as sent
    assert verify_chain(store).ok
    runs = client.get("/api/v1/namespaces/pipelines/jobs/odd/runs").json()["runs"]
    stats_read = runs[0]["facets"]["stats"]  # the tables' JSON: NaN has no JSON form
    assert stats_read["big"] == 2**70 and stats_read["ratio"] is None


def test_api_keys(make_client):
    client = make_client({"writer": "rw", "reader": "ro"})
    event = run_event()
    assert client.post("/api/v1/lineage", json=event).status_code == 401
    r = client.post("/api/v1/lineage", json=event, headers={"Authorization": "Bearer reader"})
    assert r.status_code == 403 and "read-only" in r.json()["message"]
    assert (
        client.post(
            "/api/v1/lineage", json=event, headers={"Authorization": "Bearer wrong"}
        ).status_code
        == 401
    )
    assert (
        client.post(
            "/api/v1/lineage", json=event, headers={"Authorization": "Bearer writer"}
        ).status_code
        == 201
    )
    assert client.get("/api/v1/namespaces").status_code == 401
    assert (
        client.get("/api/v1/namespaces", headers={"Authorization": "Bearer reader"}).status_code
        == 200
    )
    assert client.get("/api/v1/health").status_code == 200


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    mutation=st.sampled_from(
        ["eventTime", "eventType", "run", "job", "inputs", "outputs", "producer", "schemaURL"]
    ),
    value=json_values,
    raw=st.binary(max_size=40),
)
def test_fuzz_never_500_never_partial(client, mutation, value, raw):
    before = client.get("/api/v1/events/lineage").json()["totalCount"]
    event = run_event(outputs=[dataset("fuzz")])
    event[mutation] = value
    r = client.post("/api/v1/lineage", json=event)
    assert r.status_code in (201, 400, 422), r.text
    after = client.get("/api/v1/events/lineage").json()["totalCount"]
    assert after == before + (1 if r.status_code == 201 and not r.json()["duplicate"] else 0)
    r = client.post("/api/v1/lineage", content=raw, headers={"Content-Type": "application/json"})
    assert r.status_code in (201, 400, 422)


@pytest.fixture
def fuzz_store(make_client, tmp_path):
    from headwater.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'fuzz.db'}")
    return store, make_client(store=store)


# Any code point, lone surrogates included (JSON can carry them escaped), and any float.
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=8)
deep_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(any_text, children, max_size=3)
    ),
    max_leaves=8,
)
deep_places = st.sampled_from(
    [
        ("job", "name"),
        ("job", "namespace"),
        ("job", "facets", "sql"),
        ("run", "facets", "custom"),
        ("outputs", 0, "name"),
        ("outputs", 0, "facets", "schema", "fields"),
        ("outputs", 0, "facets", "columnLineage"),
        ("outputs", 0, "facets", "version", "datasetVersion"),
    ]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(place=deep_places, value=deep_values, as_batch=st.booleans())
def test_fuzz_nested_values_never_500(fuzz_store, place, value, as_batch):
    """Values deep inside an event (names, facets, lineage), with any code point or float, sent
    as ASCII-escaped JSON alone or in a batch: a 2xx or a 4xx, a refused event stores nothing,
    and an accepted one projects (nothing lands in ``projection_errors``)."""
    from sqlalchemy import func, select

    from headwater.store import schema as t

    store, client = fuzz_store
    before = client.get("/api/v1/events/lineage").json()["totalCount"]
    event = run_event(outputs=[dataset("fuzz", fields=["a"])])
    target = event
    for key in place[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    target[place[-1]] = value
    body = json.dumps([event] if as_batch else event)  # ASCII: surrogates travel escaped
    path = "/api/v1/lineage/batch" if as_batch else "/api/v1/lineage"
    r = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (200, 201, 207, 400, 422), r.text
    stored = r.status_code in (200, 201) and not r.json().get("duplicate", False)
    after = client.get("/api/v1/events/lineage").json()["totalCount"]
    assert after - before in ((0, 1) if stored else (0,))
    assert client.get("/api/v1/namespaces").status_code == 200  # reads project first
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.projection_errors)).scalar() == 0


@pytest.mark.parametrize("path", ["/api/v1/lineage", "/api/v1/lineage/batch"])
def test_unsupported_encoding(client, path):
    r = client.post(path, content=b"{}", headers={"Content-Encoding": "br"})
    assert r.status_code == 400
