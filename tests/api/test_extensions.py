"""Headwater's API extensions for the UI: search places, child runs, quality history, job version
diffs, chain verification and PII flow; bad parameters answer 4xx JSON naming the parameter."""

import uuid

import pytest

from factories import checked_dataset, dataset, run_event
from tampering import edit_body, log_engine

PARENT = str(uuid.uuid4())


def _parent(job: str = "nightly") -> dict:
    return {
        "parent": {
            "_producer": "p",
            "_schemaURL": "s",
            "run": {"runId": PARENT},
            "job": {"namespace": "pipelines", "name": job},
        }
    }


@pytest.fixture
def filled(client):
    owners = {"_producer": "p", "_schemaURL": "s", "owners": [{"name": "team-finance"}]}
    checked = checked_dataset("accounts", [("not_null(id)", False)])
    events = [
        run_event("START", job="nightly", run_id=PARENT, at=0),
        run_event(
            job="load",
            sql="SELECT id\nFROM raw",
            inputs=[dataset("raw", fields=["id"])],
            outputs=[dataset("accounts", fields=["id", "iban"], ownership=owners)],
            run_facets=_parent(),
            at=1,
        ),
        run_event(
            job="load",
            sql="SELECT id, iban\nFROM raw\nJOIN banks USING (id)",
            inputs=[dataset("raw"), dataset("banks", fields=["id"])],
            outputs=[dataset("accounts")],
            run_facets=_parent(),
            at=2,
        ),
        run_event(job="load.checks", inputs=[checked], at=3),
    ]
    for e in events:
        assert client.post("/api/v1/lineage", json=e).status_code == 201
    return client


def test_search_extensions_and_marquez_shape(filled):
    plain = filled.get("/api/v1/search", params={"q": "acc"}).json()
    assert plain["results"] and set(plain["results"][0]) == {
        "type",
        "name",
        "updatedAt",
        "namespace",
        "nodeId",
    }
    found = filled.get("/api/v1/search", params={"q": "iban", "match": "all"}).json()
    assert [(r["type"], r["nodeId"], r["matched"]) for r in found["results"]] == [
        ("FIELD", "datasetField:warehouse:accounts:iban", "column"),
        ("JOB", "job:pipelines:load", "sql"),
    ]
    assert found["results"][1]["detail"] == "SELECT id, iban"
    owner = filled.get("/api/v1/search", params={"q": "finance", "match": "owner,tag"}).json()
    assert [r["nodeId"] for r in owner["results"]] == ["dataset:warehouse:accounts"]
    fields = filled.get("/api/v1/search", params={"q": "id", "filter": "FIELD"}).json()
    assert {r["type"] for r in fields["results"]} == {"FIELD"} and fields["totalCount"] == 3
    ranked = filled.get(
        "/api/v1/search", params={"q": "a", "match": "all", "sort": "relevance", "limit": 50}
    ).json()
    ranks = ["name", "namespace", "column", "tag", "owner", "sql"]
    order = [ranks.index(r["matched"]) for r in ranked["results"]]
    assert order == sorted(order)


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"q": "a", "match": "columns"}, "match"),
        ({"q": "a", "match": ","}, "match"),
        ({"q": "a", "filter": "COLUMN"}, "filter"),
        ({"q": "a", "sort": "BEST"}, "sort"),
        ({"q": "a", "limit": 0}, "limit"),
    ],
)
def test_bad_search_parameters_are_400s_naming_them(filled, params, param):
    r = filled.get("/api/v1/search", params=params)
    assert r.status_code == 400 and r.json()["param"] == param and param in r.json()["message"]


def test_child_runs(filled):
    r = filled.get(f"/api/v1/headwater/runs/{PARENT}/children")
    assert r.status_code == 200
    body = r.json()
    assert body["totalCount"] == 2 and [x["jobVersion"]["name"] for x in body["runs"]] == [
        "load",
        "load",
    ]
    assert filled.get(f"/api/v1/headwater/runs/{PARENT}/children?limit=1").json()["totalCount"] == 2
    missing = filled.get("/api/v1/headwater/runs/nope/children")
    assert missing.status_code == 404 and "nope" in missing.json()["message"]
    bad = filled.get(f"/api/v1/headwater/runs/{PARENT}/children?limit=-1")
    assert bad.status_code == 400 and bad.json()["param"] == "limit"


def test_quality_history(filled):
    r = filled.get("/api/v1/headwater/datasets/warehouse/accounts/quality").json()
    assert r["totalCount"] == 1
    (result,) = r["results"]
    assert (result["assertion"], result["success"], result["job"]["name"]) == (
        "not_null(id)",
        False,
        "load.checks",
    )
    assert filled.get("/api/v1/headwater/datasets/warehouse/nope/quality").status_code == 404
    bad = filled.get("/api/v1/headwater/datasets/warehouse/accounts/quality?offset=-2")
    assert bad.status_code == 400 and bad.json()["param"] == "offset"


def test_job_version_diff(filled):
    versions = filled.get("/api/v1/namespaces/pipelines/jobs/load/versions").json()["versions"]
    new, old = versions[0]["version"], versions[1]["version"]
    d = filled.get("/api/v1/headwater/jobs/pipelines/load/versions/diff").json()
    assert d["from"]["version"] == old and d["to"]["version"] == new
    assert "-SELECT id" in d["sql"].splitlines() and "+JOIN banks USING (id)" in d["sql"]
    assert d["inputsAdded"] == ["warehouse:banks"] and d["inputsRemoved"] == []
    assert d["outputsAdded"] == d["outputsRemoved"] == []
    back = filled.get(
        "/api/v1/headwater/jobs/pipelines/load/versions/diff", params={"from": new, "to": old}
    ).json()
    assert back["inputsRemoved"] == ["warehouse:banks"]
    first = filled.get(
        "/api/v1/headwater/jobs/pipelines/load/versions/diff", params={"to": old}
    ).json()
    assert first["from"] is None and "+FROM raw" in first["sql"]
    for param in ("from", "to"):
        r = filled.get(
            "/api/v1/headwater/jobs/pipelines/load/versions/diff", params={param: "nope"}
        )
        assert r.status_code == 404 and r.json()["param"] == param
    assert filled.get("/api/v1/headwater/jobs/pipelines/nope/versions/diff").status_code == 404


def test_chain_verification_and_pii(make_client, tmp_path):
    from headwater.store import open_store

    db = tmp_path / "chain.db"
    store = open_store(f"sqlite:///{db}")
    client = make_client(store=store)
    for i in range(3):
        client.post("/api/v1/lineage", json=run_event(job=f"j{i}", at=i))
    ok = client.get("/api/v1/headwater/audit/verify").json()
    assert ok == {"ok": True, "checked": 3, "firstBadId": None, "reason": None, "pruned": 0}
    engine = log_engine(db)
    edit_body(engine, 2, "j1", "jX")
    engine.dispose()
    bad = client.get("/api/v1/headwater/audit/verify").json()
    assert bad["ok"] is False and bad["firstBadId"] == 2 and "altered" in bad["reason"]

    tags = {
        "_producer": "p",
        "_schemaURL": "s",
        "tags": [{"key": "pii", "value": "true", "field": "email"}],
    }
    cll = {
        "_producer": "p",
        "_schemaURL": "s",
        "fields": {
            "contact": {
                "inputFields": [
                    {
                        "namespace": "warehouse",
                        "name": "people",
                        "field": "email",
                        "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}],
                    }
                ]
            }
        },
    }
    client.post(
        "/api/v1/lineage",
        json=run_event(
            job="copy",
            inputs=[dataset("people", fields=["email"], tags=tags)],
            outputs=[dataset("contacts", fields=["contact"], columnLineage=cll)],
            at=10,
        ),
    )
    pii = client.get("/api/v1/headwater/pii").json()
    assert [(c["dataset"], c["field"], c["tagged"]) for c in pii["columns"]] == [
        ("people", "email", True),
        ("contacts", "contact", False),
    ]
    assert pii["columns"][1]["path"] == "people.email -> contacts.contact"
    assert client.get("/api/v1/headwater/pii?depth=0").json()["param"] == "depth"
