import gzip
import json
import zlib

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


@pytest.mark.parametrize("path", ["/api/v1/lineage", "/api/v1/lineage/batch"])
def test_compressed_bodies(client, path):
    """gzip (several members too) and deflate; a truncated body is a 400, nothing stored."""
    event = json.dumps(run_event(job="zipped")).encode()
    body = event if path.endswith("lineage") else b"[" + event + b"]"
    half = len(body) // 2
    members = gzip.compress(body[:half]) + gzip.compress(body[half:])
    for content, encoding in [(members, "gzip"), (zlib.compress(body), "deflate")]:
        r = client.post(path, content=content, headers={"Content-Encoding": encoding})
        assert r.status_code in (200, 201), r.text
    truncated = gzip.compress(body)[:-12]
    r = client.post(path, content=truncated, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400 and "ends before its end" in r.json()["message"]
    assert client.get("/api/v1/events/lineage").json()["totalCount"] == 1


@pytest.mark.parametrize("path", ["/api/v1/lineage", "/api/v1/lineage/batch"])
def test_body_limit_applies_after_decompression(client, monkeypatch, path):
    """A small gzip body that inflates past the limit is refused, and inflated no further."""
    monkeypatch.setattr("headwater.api.ingest.MAX_BODY", 10_000)
    padded = run_event(run_facets={"pad": {"_producer": "p", "_schemaURL": "s", "x": "a" * 50_000}})
    content = gzip.compress(json.dumps(padded).encode())
    assert len(content) < 10_000
    r = client.post(path, content=content, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400
    assert r.json()["message"] == "body larger than 10000 bytes once decompressed"
    plain = client.post(path, content=json.dumps(padded), headers={"Content-Type": "x"})
    assert plain.status_code == 400 and plain.json()["message"] == "body larger than 10000 bytes"
    assert client.get("/api/v1/events/lineage").json()["totalCount"] == 0


def test_router_without_the_middleware_answers_alike(tmp_path):
    """An app that includes only the ingest router (no :class:`SingleEvents` in front) gets the
    same answers from the route."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from headwater.api import errors, ingest
    from headwater.store import open_store

    app = FastAPI()
    app.state.store = store = open_store(f"sqlite:///{tmp_path / 'bare.db'}")
    errors.install(app)
    app.include_router(ingest.router)
    try:
        with TestClient(app) as bare:
            event = run_event(job="bare")
            first = bare.post("/api/v1/lineage", json=event)
            assert first.status_code == 201 and first.json()["duplicate"] is False
            assert bare.post("/api/v1/lineage", json=event).json()["duplicate"] is True
            bad = bare.post("/api/v1/lineage", content=b"{", headers={"Content-Type": "x"})
            assert bad.status_code == 400 and "malformed JSON" in bad.json()["message"]
            del event["job"]
            invalid = bare.post("/api/v1/lineage", json=event)
            assert invalid.status_code == 422 and invalid.json()["path"] == "$.job"
        assert sum(1 for _ in store.export_events()) == 1
    finally:
        store.close()


def test_client_gone_before_its_body_ends_stores_nothing(client):
    """The ASGI app sees a disconnect in place of the body's end: no answer, nothing stored."""
    import asyncio

    body = json.dumps(run_event(job="gone")).encode()
    messages = [
        {"type": "http.request", "body": body[:100], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent = []

    async def receive():
        return messages.pop(0)

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/lineage",
        "raw_path": b"/api/v1/lineage",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    asyncio.run(client.app(scope, receive, send))
    assert sent == [] and messages == []
    assert client.get("/api/v1/events/lineage").json()["totalCount"] == 0


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
