"""The storage contract: every backend (SQLite, PostgreSQL) must pass all of this."""

import json
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, text

from factories import T0, checked_dataset, column_lineage, dataset, run_event, ts
from headwater.graph import column_lineage as column_graph
from headwater.graph import lineage, upstream_runs
from headwater.model import DatasetId, EventValidationError, JobId, parse_node_id
from headwater.store import NotFound, open_store
from headwater.store import schema as t
from headwater.store.audit import verify_chain
from headwater.store.sql import SqlStore


def _retail(store, run_a=None, run_b=None):
    """customers + orders -> staging -> summary (+ products), as two jobs."""
    run_a = run_a or str(uuid.uuid4())
    run_b = run_b or str(uuid.uuid4())
    staging_cll = column_lineage(
        {
            "customer_id": [("warehouse:orders", "customer_id", "DIRECT", "IDENTITY")],
            "first_name": [("warehouse:customers", "first_name", "DIRECT", "IDENTITY")],
            "quantity": [("warehouse:orders", "quantity", "DIRECT", "IDENTITY")],
            "product_id": [("warehouse:orders", "product_id", "DIRECT", "IDENTITY")],
        },
        dataset_level=[
            ("warehouse:orders", "customer_id", "JOIN"),
            ("warehouse:customers", "customer_id", "JOIN"),
        ],
    )
    summary_cll = column_lineage(
        {
            "total_profit": [
                ("warehouse:staging", "quantity", "DIRECT", "AGGREGATION"),
                ("warehouse:products", "price", "DIRECT", "AGGREGATION"),
                ("warehouse:products", "cost", "DIRECT", "AGGREGATION"),
            ],
            "customer_id": [("warehouse:staging", "customer_id", "DIRECT", "IDENTITY")],
        }
    )
    events = [
        run_event(
            "START",
            "customer_orders_etl",
            run_a,
            [
                dataset("orders", fields=["customer_id", "product_id", "quantity"]),
                dataset("customers", fields=["customer_id", "first_name"]),
            ],
            [],
            at=0,
            sql="select ...",
        ),
        run_event(
            "COMPLETE",
            "customer_orders_etl",
            run_a,
            [],
            [
                dataset(
                    "staging",
                    fields=["customer_id", "first_name", "quantity", "product_id"],
                    columnLineage=staging_cll,
                )
            ],
            at=5,
            sql="select ...",
        ),
        run_event(
            "START",
            "customer_revenue_aggregation",
            run_b,
            [dataset("staging"), dataset("products", fields=["product_id", "price", "cost"])],
            [],
            at=10,
        ),
        run_event(
            "COMPLETE",
            "customer_revenue_aggregation",
            run_b,
            [],
            [dataset("summary", fields=["customer_id", "total_profit"], columnLineage=summary_cll)],
            at=20,
        ),
    ]
    for e in events:
        store.ingest(e)
    return run_a, run_b


def test_ingest_and_read_entities(store):
    run_a, run_b = _retail(store)
    namespaces, total = store.list_namespaces()
    assert {n["name"] for n in namespaces} == {"pipelines", "warehouse"} and total == 2
    datasets, total = store.list_datasets("warehouse")
    assert total == 5 and [d["name"] for d in datasets] == [
        "customers",
        "orders",
        "products",
        "staging",
        "summary",
    ]
    staging = store.get_dataset(DatasetId("warehouse", "staging"))
    assert [f["name"] for f in staging["fields"]] == [
        "customer_id",
        "first_name",
        "quantity",
        "product_id",
    ]
    job = store.get_job(JobId("pipelines", "customer_orders_etl"))
    # a run's inputs and outputs are the union over its events
    assert {d["name"] for d in job["inputs"]} == {"orders", "customers"}
    assert [d["name"] for d in job["outputs"]] == ["staging"]
    assert job["latestRun"]["state"] == "COMPLETED"
    run = store.get_run(run_a)
    assert run["state"] == "COMPLETED" and run["durationMs"] == 5000
    assert run["jobVersion"]["version"] == job["currentVersion"]
    assert {v["datasetVersionId"]["name"] for v in run["inputDatasetVersions"]} == {
        "orders",
        "customers",
    }


def test_idempotent(store):
    event = run_event("COMPLETE", outputs=[dataset("t", fields=["a"])])
    first = store.ingest(event)
    before = store.list_events()[1], store.get_dataset(DatasetId("warehouse", "t"))
    again = store.ingest(json.dumps(event, indent=4))  # same event, other bytes
    assert not first.duplicate and again.duplicate and again.event_id == first.event_id
    assert (store.list_events()[1], store.get_dataset(DatasetId("warehouse", "t"))) == before


def test_order_tolerant_state(store):
    run_id = str(uuid.uuid4())
    store.ingest(run_event("COMPLETE", run_id=run_id, at=10))
    store.ingest(run_event("START", run_id=run_id, at=0))
    store.ingest(run_event("RUNNING", run_id=run_id, at=12))  # late RUNNING must not reopen
    run = store.get_run(run_id)
    assert run["state"] == "COMPLETED"
    assert run["startedAt"] == ts(0).replace("Z", ".000000Z") and run["endedAt"] == ts(10).replace(
        "Z", ".000000Z"
    )
    other = str(uuid.uuid4())
    store.ingest(run_event("FAIL", run_id=other, at=3))
    assert store.get_run(other)["state"] == "FAILED"


def test_facets_merged_in_event_time_order(store):
    run_id = str(uuid.uuid4())
    store.ingest(run_event("COMPLETE", run_id=run_id, at=10, run_facets={"a": {"v": "late"}}))
    store.ingest(
        run_event("START", run_id=run_id, at=0, run_facets={"a": {"v": "early"}, "b": {"v": 1}})
    )
    facets = store.get_run_facets(run_id)["facets"]
    assert facets == {"a": {"v": "late"}, "b": {"v": 1}}


def test_job_versions_change_with_sql(store):
    store.ingest(run_event(sql="select 1", outputs=[dataset("t")], at=0))
    store.ingest(run_event(sql="select 1", outputs=[dataset("t")], at=1))
    store.ingest(run_event(sql="select 2", outputs=[dataset("t")], at=2))
    versions, total = store.list_job_versions(JobId("pipelines", "etl"))
    assert total == 2
    assert versions[0]["facets"]["sql"]["query"] == "select 2"
    assert store.get_job(JobId("pipelines", "etl"))["currentVersion"] == versions[0]["version"]


def test_dataset_versions_and_version_facets(store):
    out = dataset(
        "t", fields=["a"], version={"_producer": "p", "_schemaURL": "s", "datasetVersion": "snap-1"}
    )
    run1 = store.ingest(run_event(outputs=[out], at=0))
    assert run1
    store.ingest(run_event(outputs=[dataset("t", fields=["a", "b"])], at=5))
    versions, total = store.list_dataset_versions(DatasetId("warehouse", "t"))
    assert total == 2
    assert versions[0]["fields"][1]["name"] == "b"
    assert versions[1]["datasetVersionFacet"] == "snap-1"
    assert (
        store.get_dataset(DatasetId("warehouse", "t"))["currentVersion"] == versions[0]["version"]
    )


def test_parent_run(store):
    parent = str(uuid.uuid4())
    child = str(uuid.uuid4())
    facet = {
        "parent": {
            "_producer": "p",
            "_schemaURL": "s",
            "run": {"runId": parent},
            "job": {"namespace": "pipelines", "name": "retail"},
        }
    }
    store.ingest(run_event(job="retail", run_id=parent))
    store.ingest(run_event(job="retail.step", run_id=child, run_facets=facet))
    assert store.get_run(child)["parentRunId"] == parent


def test_column_lineage_stored_in_full(store):
    _retail(store)
    edges = store.column_edges([(DatasetId("warehouse", "summary"), "total_profit")], "upstream")
    assert {(e.in_dataset.name, e.in_field) for e in edges} == {
        ("staging", "quantity"),
        ("products", "price"),
        ("products", "cost"),
    }
    assert all(e.transformations[0]["subtype"] == "AGGREGATION" for e in edges)
    dataset_level = store.column_edges([(DatasetId("warehouse", "staging"), "")], "upstream")
    assert {
        (e.in_dataset.name, e.in_field, e.transformations[0]["subtype"]) for e in dataset_level
    } == {
        ("orders", "customer_id", "JOIN"),
        ("customers", "customer_id", "JOIN"),
    }


def test_lineage_graph_directed(store):
    _retail(store)
    down = lineage(store, parse_node_id("dataset:warehouse:customers"), 5, "downstream")
    ids = {n["id"] for n in down["graph"]}
    assert ids == {
        "dataset:warehouse:customers",
        "job:pipelines:customer_orders_etl",
        "dataset:warehouse:staging",
        "job:pipelines:customer_revenue_aggregation",
        "dataset:warehouse:summary",
    }  # orders and products are siblings, not downstream: Marquez would include them
    up = lineage(store, parse_node_id("dataset:warehouse:summary"), 1, "upstream")
    assert {n["id"] for n in up["graph"]} == {
        "dataset:warehouse:summary",
        "job:pipelines:customer_revenue_aggregation",
        "dataset:warehouse:staging",
        "dataset:warehouse:products",
    }
    node = next(n for n in up["graph"] if n["id"] == "job:pipelines:customer_revenue_aggregation")
    assert {e["origin"] for e in node["inEdges"]} == {
        "dataset:warehouse:staging",
        "dataset:warehouse:products",
    }
    with pytest.raises(NotFound):
        lineage(store, parse_node_id("dataset:warehouse:nope"), 2)


def test_column_lineage_graph_transitive(store):
    _retail(store)
    graph = column_graph(store, parse_node_id("datasetField:warehouse:summary:total_profit"), 10)[
        "graph"
    ]
    ids = {n["id"] for n in graph}
    assert "datasetField:warehouse:orders:quantity" in ids  # through staging
    node = next(n for n in graph if n["id"] == "datasetField:warehouse:summary:total_profit")
    assert node["data"]["transformationType"] == "DIRECT"
    assert {i["field"] for i in node["data"]["inputFields"]} == {"quantity", "price", "cost"}
    down = column_graph(
        store, parse_node_id("datasetField:warehouse:orders:quantity"), 10, with_downstream=True
    )["graph"]
    assert "datasetField:warehouse:summary:total_profit" in {n["id"] for n in down}


def test_upstream_runs(store):
    run_a, run_b = _retail(store)
    result = upstream_runs(store, run_b, 5)["runs"]
    assert [r["run"]["id"] for r in result] == [run_b, run_a]
    staging = next(i for i in result[0]["inputs"] if i["name"] == "staging")
    assert staging["producedByRunId"] == run_a and staging["version"] is not None


def test_search_and_events(store):
    _retail(store)
    found = store.search("sta")
    assert found["totalCount"] == 1 and found["results"][0]["nodeId"] == "dataset:warehouse:staging"
    jobs = store.search("customer", kind="JOB", sort="NAME")
    assert [r["name"] for r in jobs["results"]] == [
        "customer_orders_etl",
        "customer_revenue_aggregation",
    ]
    events, total = store.list_events(limit=2, descending=False)
    assert total == 4 and events[0]["eventType"] == "START"
    assert len(list(store.export_events())) == 4


def test_event_counts_leave_out_pruned_bodies_in_any_range(store):
    """``totalCount`` counts the events with a body, in the time range asked; retention's
    emptied ones (their rows stay, for the chain) count in no range, and a late event older
    than the retention horizon, logged after the pruning, counts."""
    for i in range(6):
        store.ingest(run_event(job=f"j{i}", at=i * 60))
    assert store.prune_events(older_than=T0 + timedelta(seconds=150)) == 3  # j0, j1, j2
    store.ingest(run_event(job="late", at=30))  # older than the horizon, logged after it
    minute = lambda k: T0 + timedelta(seconds=60 * k)  # noqa: E731
    cases = [
        ({}, ["j5", "j4", "j3", "late"]),
        ({"after": minute(1)}, ["j5", "j4", "j3"]),
        ({"before": minute(3)}, ["j3", "late"]),
        ({"after": minute(0), "before": minute(2)}, ["late"]),
        ({"after": minute(6)}, []),
    ]
    for kwargs, jobs in cases:
        events, total = store.list_events(**kwargs)
        assert [e["job"]["name"] for e in events] == jobs, kwargs
        assert total == len(jobs), kwargs
    page, total = store.list_events(limit=2, offset=1, descending=False)
    assert [e["job"]["name"] for e in page] == ["j3", "j4"] and total == 4
    assert [json.loads(b)["job"]["name"] for b in store.export_events()] == [
        "j3",
        "j4",
        "j5",
        "late",
    ]
    assert verify_chain(store).ok


def test_tags(store):
    _retail(store)
    ds = store.tag("pii", DatasetId("warehouse", "customers"), "first_name")
    assert ds["fields"][1]["tags"] == ["pii"]
    with pytest.raises(NotFound):
        store.tag("pii", DatasetId("warehouse", "customers"), "nope")
    assert store.list_tags() == [{"name": "pii", "description": None}]


def test_rejected_event_changes_nothing(store):
    _retail(store)
    before = list(store.export_events())
    bad = run_event(outputs=[dataset("new_table")])
    bad["outputs"].append({"namespace": "warehouse"})  # no name: invalid
    with pytest.raises(EventValidationError):
        store.ingest(bad)
    assert list(store.export_events()) == before
    with pytest.raises(NotFound):
        store.get_dataset(DatasetId("warehouse", "new_table"))


def test_not_found(store):
    for call in (
        lambda: store.get_namespace("x"),
        lambda: store.get_dataset(DatasetId("x", "y")),
        lambda: store.get_job(JobId("x", "y")),
        lambda: store.get_run("nope"),
        lambda: store.list_runs(JobId("x", "y")),
    ):
        with pytest.raises(NotFound):
            call()


def test_concurrent_writers_lose_nothing(store_url):
    stores = [open_store(store_url) for _ in range(4)]
    events = [
        run_event(job=f"job{i % 7}", outputs=[dataset(f"t{i % 11}")], at=i) for i in range(120)
    ]

    def work(k):
        for e in events[k::4]:
            stores[k].ingest(e)
            stores[k].ingest(e)  # and a duplicate racing the others

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert stores[0].list_events(limit=1)[1] == 120
    assert stores[0].list_jobs()[1] == 7
    assert verify_chain(stores[0]).ok
    for s in stores:
        s.close()


def test_stores_racing_the_same_events_log_each_once(store_url):
    """Four processes' stores append the same events at once: each is logged once, every
    caller gets its id, and the chain is whole (PostgreSQL: the one-statement append's retry)."""
    stores = [open_store(store_url) for _ in range(4)]
    events = [run_event(job=f"race{i % 3}", outputs=[dataset(f"r{i}")], at=i) for i in range(40)]
    results: dict[int, list] = {}
    start = threading.Barrier(4)

    def work(k: int) -> None:
        start.wait()
        results[k] = [stores[k].ingest(e) for e in events]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for i in range(len(events)):
        outcomes = [results[k][i] for k in range(4)]
        assert len({r.event_id for r in outcomes}) == 1
        assert sum(not r.duplicate for r in outcomes) == 1
    assert stores[0].list_events(limit=1)[1] == 40
    assert verify_chain(stores[0]).ok
    for s in stores:
        s.close()


def test_removing_the_newest_events_breaks_the_chain(store):
    from headwater.store.audit import verify_chain

    for i in range(3):
        store.ingest(run_event(job=f"tail{i}", at=i))
    assert verify_chain(store).ok
    with store.engine.begin() as conn:
        newest = conn.execute(text("SELECT MAX(id) FROM events")).scalar()
        for table in (t.run_facets, t.quality_assertions, t.projection_errors):
            conn.execute(delete(table).where(table.c.event_id == newest))
    with store.log_engine.begin() as conn:  # on SQLite the log's own file
        conn.execute(delete(t.events).where(t.events.c.id == newest))
    report = verify_chain(store)
    assert not report.ok and report.checked == 2 and report.first_bad_id is None
    assert "newest events were removed" in (report.reason or "")


def test_concurrent_ingests_into_one_store_share_commits_and_lose_nothing(store):
    """Threads of one process (the server's request threads) append through group commit."""
    events = [run_event(job=f"job{i % 5}", outputs=[dataset(f"t{i}")], at=i) for i in range(60)]
    results: dict[int, list] = {}
    start = threading.Barrier(6)

    def work(k: int) -> None:
        start.wait()
        mine = [store.ingest(e) for e in events[k::6]]
        mine += [store.ingest(e) for e in events[k::6]]  # the same again: duplicates
        results[k] = mine

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for mine in results.values():
        first, again = mine[: len(mine) // 2], mine[len(mine) // 2 :]
        assert not any(r.duplicate for r in first)
        assert all(r.duplicate for r in again)
        assert [r.event_id for r in first] == [r.event_id for r in again]
    ids = [r.event_id for mine in results.values() for r in mine[: len(mine) // 2]]
    assert len(set(ids)) == 60
    assert store.list_events(limit=1)[1] == 60
    assert store.list_datasets("warehouse")[1] == 60
    from headwater.store.audit import verify_chain

    assert verify_chain(store).ok


def test_a_long_read_neither_waits_for_nor_blocks_writers(store_url):
    reader, writer = open_store(store_url), open_store(store_url)
    for i in range(3):
        reader.ingest(run_event(job=f"job{i}", outputs=[dataset(f"t{i}")], at=i))
    export = reader.export_events()
    first = next(export)  # a read transaction is open now, mid-way through the log
    done = threading.Event()

    def write():
        writer.ingest(run_event(job="late", outputs=[dataset("t_late")], at=9))
        done.set()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    assert done.wait(10), "a writer waited for an open read transaction"
    rest = list(export)
    assert [first, *rest] == list(reader.export_events())[:3]  # the read saw its own snapshot
    assert writer.list_jobs()[1] == 4
    reader.close()
    writer.close()


def test_search_matches_wildcards_literally(store):
    store.ingest(
        run_event(outputs=[dataset("sales_2024"), dataset("sales-2024"), dataset("sales%x")])
    )
    assert [r["name"] for r in store.search("_2024")["results"]] == ["sales_2024"]
    assert [r["name"] for r in store.search("s%x")["results"]] == ["sales%x"]


@pytest.mark.parametrize("url", ["mysql://root@localhost/x", "headwater.db", "oracle://x"])
def test_unsupported_urls_are_refused_clearly(url):
    from headwater.store import StoreError

    with pytest.raises(StoreError, match="unsupported store URL"):
        open_store(url)


def test_quality_results_keep_the_latest_per_assertion(store):
    def checked(success, at):
        ds = checked_dataset("orders", [("not_null", success)])
        return run_event(job="checks", inputs=[ds], at=at)

    store.ingest(checked(True, 0))
    store.ingest(checked(False, 10))
    (result,) = store.quality_results([DatasetId("warehouse", "orders")])[
        DatasetId("warehouse", "orders")
    ]
    assert result["success"] is False and result["column"] == "id"
    assert store.quality_results([DatasetId("warehouse", "nothing")]) == {}


def test_lineage_as_of(store):
    """A job that switched inputs: the graph as of a time follows the version of that time."""
    cll_a = column_lineage({"v": [("warehouse:a", "x", "DIRECT", "IDENTITY")]})
    cll_b = column_lineage({"v": [("warehouse:b", "y", "DIRECT", "TRANSFORMATION")]})
    store.ingest(
        run_event(
            job="switcher",
            inputs=[dataset("a")],
            outputs=[dataset("out", columnLineage=cll_a)],
            at=0,
        )
    )
    store.ingest(
        run_event(
            job="switcher",
            inputs=[dataset("b")],
            outputs=[dataset("out", columnLineage=cll_b)],
            at=100,
        )
    )
    from datetime import timedelta

    from factories import T0

    node = parse_node_id("dataset:warehouse:out")
    then = {
        n["id"]
        for n in lineage(store, node, 2, "upstream", as_of=T0 + timedelta(seconds=50))["graph"]
    }
    now = {n["id"] for n in lineage(store, node, 2, "upstream")["graph"]}
    assert "dataset:warehouse:a" in then and "dataset:warehouse:b" not in then
    assert "dataset:warehouse:b" in now and "dataset:warehouse:a" not in now
    before_anything = lineage(store, node, 2, "upstream", as_of=T0 - timedelta(days=1))["graph"]
    assert [n["id"] for n in before_anything] == ["dataset:warehouse:out"]
    field = parse_node_id("datasetField:warehouse:out:v")
    cols_then = column_graph(store, field, 2, as_of=T0 + timedelta(seconds=50))["graph"]
    assert {n["id"] for n in cols_then} == {
        "datasetField:warehouse:out:v",
        "datasetField:warehouse:a:x",
    }
    cols_now = column_graph(store, field, 2)["graph"]
    assert {n["id"] for n in cols_now} == {
        "datasetField:warehouse:out:v",
        "datasetField:warehouse:b:y",
    }


def test_lineage_and_schemas_at(store):
    _retail(store)
    tables, columns, sql = store.lineage_at()
    assert {te.job.name for te in tables} == {"customer_orders_etl", "customer_revenue_aggregation"}
    assert any(c.out_field == "total_profit" for c in columns)
    assert sql[JobId("pipelines", "customer_orders_etl")] == "select ..."
    from datetime import timedelta

    from factories import T0

    assert store.lineage_at(T0 - timedelta(days=1)) == ([], [], {})
    assert store.schemas_at()[DatasetId("warehouse", "summary")] == ["customer_id", "total_profit"]


def test_facets_of_datasets_and_jobs(store):
    owned = {"ownership": {"_producer": "p", "_schemaURL": "s", "owners": [{"name": "team-a"}]}}
    store.ingest(run_event(job="j", outputs=[dataset("t", **owned)]))
    found = store.facets_of(
        [DatasetId("warehouse", "t"), JobId("pipelines", "j"), DatasetId("warehouse", "missing")]
    )
    assert found[DatasetId("warehouse", "t")]["ownership"]["owners"] == [{"name": "team-a"}]
    assert JobId("pipelines", "j") in found and DatasetId("warehouse", "missing") not in found
    only = store.facets_of([DatasetId("warehouse", "t"), JobId("pipelines", "j")], ["ownership"])
    assert only[DatasetId("warehouse", "t")] == owned  # extracted by the database, nothing else
    assert only[JobId("pipelines", "j")] == {}  # the job has no ownership facet


def test_ingest_many_is_one_pass_with_per_item_results(store, store_url):
    """Invalid items are reported at their index; duplicates inside a batch are stored once."""
    first = run_event(job="a", outputs=[dataset("x")], at=1)
    items = [
        json.dumps(first).encode(),
        b"{not json",
        json.dumps({**run_event(job="b"), "eventType": "NOPE"}).encode(),
        json.dumps(first).encode(),
        json.dumps(
            run_event(job="c", inputs=[dataset("x")], outputs=[dataset("y")], at=2)
        ).encode(),
    ]
    results = store.ingest_many(items)
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert [r.error is None for r in results] == [True, False, False, True, True]
    assert results[3].result.duplicate and results[3].result.event_id == results[0].result.event_id
    assert {j["name"] for j in store.list_jobs("pipelines")[0]} == {"a", "c"}
    graph = lineage(store, parse_node_id("dataset:warehouse:y"), 5, "upstream")["graph"]
    assert "dataset:warehouse:x" in {n["id"] for n in graph}


def test_nul_characters_are_refused_on_every_backend(store):
    """PostgreSQL cannot store U+0000, so no backend accepts it: the item fails alone, by path."""
    good = [run_event(job=f"ok{i}", outputs=[dataset(f"t{i}")], at=i) for i in range(2)]
    refused = run_event(job="nul", outputs=[dataset("t\u0000")], at=5)
    results = store.ingest_many(json.dumps(e).encode() for e in (good[0], refused, good[1]))
    assert [r.error is None for r in results] == [True, False, True]
    assert isinstance(results[1].error, EventValidationError)
    assert results[1].error.path == "$.outputs[0].name"
    assert "NUL" in str(results[1].error)
    assert {j["name"] for j in store.list_jobs("pipelines")[0]} == {"ok0", "ok1"}
    assert len(list(store.export_events())) == 2


_REFUSE_TRIGGER = {
    "sqlite": [
        "CREATE TRIGGER refuse_job BEFORE INSERT ON events WHEN NEW.job_name = 'refused' "
        "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_job() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.job_name = 'refused' THEN RAISE EXCEPTION 'refused by a trigger'; END IF; "
        "RETURN NEW; END $$",
        "CREATE TRIGGER refuse_job BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_job()",
    ],
}


@pytest.mark.parametrize("size", [3, 40])
def test_an_event_the_database_refuses_fails_alone_in_a_batch(store, size):
    """The batch's append is refused as a whole: it is rolled back and the events are appended
    one by one, so only the refused one fails, at its index, with the database's reason (on
    PostgreSQL through ``COPY``, on SQLite through the driver's ``executemany``)."""
    assert isinstance(store, SqlStore)
    with store.log_engine.begin() as conn:
        for statement in _REFUSE_TRIGGER[store.dialect]:
            conn.exec_driver_sql(statement)
    events = [run_event(job=f"kept{i}", outputs=[dataset(f"k{i}")], at=i) for i in range(size)]
    events[1] = run_event(job="refused", outputs=[dataset("r")], at=1)
    results = store.ingest_many(json.dumps(e).encode() for e in events)
    assert [r.error is None for r in results] == [i != 1 for i in range(size)]
    assert "refused by a trigger" in str(results[1].error)
    kept = {f"kept{i}" for i in range(size) if i != 1}
    assert {j["name"] for j in store.list_jobs("pipelines", limit=100)[0]} == kept
    assert len(list(store.export_events())) == size - 1
    assert verify_chain(store).ok


def test_ingest_appends_and_reads_project_what_was_accepted(store):
    """Ingest only appends to the log; the first read projects everything accepted before it."""
    run_id = str(uuid.uuid4())
    store.ingest(run_event("START", "deferred", run_id, [dataset("a")], [], at=0))
    store.ingest(run_event("COMPLETE", "deferred", run_id, [], [dataset("b")], at=1))
    assert store.pending() == 2
    run = store.get_run(run_id)  # a read catches up first
    assert run["state"] == "COMPLETED"
    assert store.pending() == 0
    assert store.catch_up() == 0
    graph = lineage(store, parse_node_id("dataset:warehouse:b"), 5, "upstream")["graph"]
    assert "dataset:warehouse:a" in {n["id"] for n in graph}


def test_projection_in_small_batches_equals_one_pass(store):
    """The projector's batch size does not change the result (state carried across batches)."""
    run_id = str(uuid.uuid4())
    events = [
        run_event("START", "batched", run_id, [dataset("x", fields=["k"])], [], at=0),
        run_event("RUNNING", "batched", run_id, [], [], at=1),
        run_event("COMPLETE", "batched", run_id, [], [dataset("y", fields=["k"])], at=2),
        run_event("START", "batched", run_id, [], [], at=0),  # late START: state stays COMPLETED
    ]
    for e in events:
        store.ingest(e)
    assert store.catch_up(batch=1) == 4
    run = store.get_run(run_id)
    assert run["state"] == "COMPLETED"
    assert [d["datasetVersionId"]["name"] for d in run["inputDatasetVersions"]] == ["x"]
    assert [d["datasetVersionId"]["name"] for d in run["outputDatasetVersions"]] == ["y"]
    assert run["startedAt"] == run["createdAt"]  # the late START moved nothing


def test_an_event_that_cannot_be_projected_is_recorded_and_skipped(store):
    """A log row the projector cannot apply (here: its body was corrupted) is set aside in
    ``projection_errors``; the events around it are projected."""
    from sqlalchemy import select, update

    from headwater.store import schema as t

    first = store.ingest(run_event(job="before", outputs=[dataset("p")], at=0)).event_id
    bad = store.ingest(run_event(job="broken", outputs=[dataset("q")], at=1)).event_id
    store.ingest(run_event(job="after", outputs=[dataset("r")], at=2))
    with store.log_engine.begin() as conn:
        conn.execute(update(t.events).where(t.events.c.id == bad).values(raw=b"{not json"))
    assert store.catch_up() == 3
    assert {j["name"] for j in store.list_jobs("pipelines")[0]} == {"before", "after"}
    with store.engine.connect() as conn:
        errors = conn.execute(select(t.projection_errors)).all()
    assert [e.event_id for e in errors] == [bad] and "JSONDecodeError" in errors[0].error
    assert first is not None


def _table_dump(store):
    """Every projected table's rows (ids included), minus times set at projection time."""
    from sqlalchemy import select

    from headwater.store import schema as t

    projected = [
        t.namespaces,
        t.datasets,
        t.dataset_versions,
        t.jobs,
        t.job_versions,
        t.job_version_io,
        t.runs,
        t.run_facets,
        t.run_io,
        t.column_edges,
        t.quality_assertions,
    ]
    dump = {}
    with store.engine.connect() as conn:
        for table in projected:
            # datasets first named by column lineage are stamped with the projection time;
            # surrogate ids nothing refers to may have gaps (PostgreSQL sequences skip on conflict)
            skip = {"created_at", "updated_at"} if table in (t.datasets, t.namespaces) else set()
            if table in (t.column_edges, t.quality_assertions):
                skip = {"id"}
            cols = [c for c in table.c if c.name not in skip]
            rows = conn.execute(select(*cols).order_by(*cols[:6])).all()
            dump[table.name] = [tuple(r) for r in rows]
    return dump


def _mixed_log(shared_dir):
    """Real integration events, then runs whose events arrive shuffled and interleaved."""
    import random

    files = sorted((shared_dir / "openlineage-events").glob("*/events/*.json"))
    synthetic = []
    for k in range(12):
        run_id, job = str(uuid.uuid4()), f"job{k % 5}"
        src = dataset(f"src{k % 3}", fields=["a", "b"])
        lineage_facet = column_lineage(
            {
                "a": [(f"warehouse:src{k % 3}", "a", "DIRECT", "IDENTITY")],
                "total": [(f"warehouse:src{k % 3}", "b", "DIRECT", "AGGREGATION")],
            }
        )
        out = dataset(f"out{k % 4}", fields=["a", "total"], columnLineage=lineage_facet)
        state = "COMPLETE" if k % 4 else "FAIL"
        synthetic += [
            run_event("START", job, run_id, [src], [], at=k * 10),
            run_event("RUNNING", job, run_id, [], [], at=k * 10 + 1),
            run_event(state, job, run_id, [], [out], at=k * 10 + 2),
        ]
    random.Random(7).shuffle(synthetic)
    return [p.read_bytes() for p in files] + [json.dumps(e).encode() for e in synthetic]


def _projected_tables(url, log, project):
    """Every projected table of a fresh store at ``url`` once ``log`` is ingested and
    ``project(store)`` has projected all of it."""
    store = open_store(url)
    try:
        assert all(r.error is None for r in store.ingest_many(log))
        project(store)
        assert store.pending() == 0
        return _table_dump(store)
    finally:
        store.close()


def _catch_up(batch):
    """Project everything through ``catch_up`` in transactions of ``batch`` events."""

    def project(store):
        assert store.catch_up(batch=batch) == store.list_events(limit=1)[1]

    return project


def test_batch_projection_equals_one_event_at_a_time(store_url, twin_store_url, shared_dir):
    """Projecting the log in one batch gives exactly the tables of projecting it event by event
    (the batch projection replays the per-event rules in memory)."""
    log = _mixed_log(shared_dir)
    one_by_one = _projected_tables(store_url, log, _catch_up(1))
    batched = _projected_tables(twin_store_url, log, _catch_up(10_000))
    assert one_by_one["runs"] and one_by_one["column_edges"] and one_by_one["dataset_versions"]
    for table in one_by_one:
        assert batched[table] == one_by_one[table], table


def test_sqlite_projection_on_a_snapshot_equals_projection_under_the_lock(tmp_path, shared_dir):
    """SQLite computes a batch on a read snapshot and writes it after (planned ids for new
    datasets, jobs and job versions); projecting under the write lock throughout, as PostgreSQL and the
    contended case do, gives exactly the same tables."""

    def under_the_lock(store):
        while store._write(lambda conn: store._project_batch(conn, 50)):
            pass

    log = _mixed_log(shared_dir)
    snapshot = _projected_tables(f"sqlite:///{tmp_path / 'snapshot.db'}", log, _catch_up(50))
    locked = _projected_tables(f"sqlite:///{tmp_path / 'locked.db'}", log, under_the_lock)
    assert snapshot["datasets"] and snapshot["jobs"] and snapshot["column_edges"]
    for table in snapshot:
        assert snapshot[table] == locked[table], table


@pytest.mark.postgres
def test_writes_survive_connections_the_server_dropped(fresh_postgres_url):
    """PostgreSQL restarted or killed our sessions: the next write reconnects and lands."""
    store = open_store(fresh_postgres_url)
    try:
        store.ingest(run_event(job="before", outputs=[dataset("a")], at=0))
        assert _kill_sessions(fresh_postgres_url) >= 1
        store.ingest(run_event(job="after", outputs=[dataset("b")], at=1))
        assert {j["name"] for j in store.list_jobs("pipelines")[0]} == {"before", "after"}
    finally:
        store.close()


def _kill_sessions(url):
    """Terminate every session of the database at ``url``; how many there were."""
    import psycopg

    from databases import PG_ADMIN_URL

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
            (url.rsplit("/", 1)[1],),
        ).fetchone()
    return killed[0] if killed else 0


def test_reads_survive_connections_the_server_dropped(fresh_postgres_url):
    """The first call after the sessions were killed is a read: it reconnects and answers."""
    store = open_store(fresh_postgres_url)
    try:
        store.ingest(run_event(job="before", outputs=[dataset("a")], at=0))
        assert {j["name"] for j in store.list_jobs("pipelines")[0]} == {"before"}
        assert _kill_sessions(fresh_postgres_url) >= 1
        assert {j["name"] for j in store.list_jobs("pipelines")[0]} == {"before"}
    finally:
        store.close()


def test_a_connection_left_mid_command_is_discarded_not_reused(fresh_postgres_url):
    """A socket closed while psycopg waited to send leaves libpq holding a command, and libpq
    does not call the connection bad: the write retries on a fresh connection and the pool
    never hands the desynchronised one out again."""
    from sqlalchemy import event

    store = open_store(fresh_postgres_url)
    poisoned = []

    def leave_a_command_pending(conn, _cursor, _statement, _parameters, _context, _many):
        if not poisoned:  # the next statement only
            driver = conn.connection.driver_connection
            driver.pgconn.send_query(b"SELECT 1")
            poisoned.append(driver)

    try:
        store.ingest(run_event(job="before", outputs=[dataset("a")], at=0))
        event.listen(store.engine, "before_cursor_execute", leave_a_command_pending)
        store.ingest(run_event(job="after", outputs=[dataset("b")], at=1))
        event.remove(store.engine, "before_cursor_execute", leave_a_command_pending)
        assert poisoned and poisoned[0].closed  # discarded
        for at in range(2, 8):  # every pooled connection works
            store.ingest(run_event(job=f"more{at}", outputs=[dataset("c")], at=at))
        assert len(store.list_jobs("pipelines")[0]) == 8
    finally:
        store.close()


def _described(store):
    """Datasets and jobs with owners, tags (stored and in the tags facet) and SQL, for search."""
    owners = {
        "_producer": "p",
        "_schemaURL": "s",
        "owners": [{"name": "team-finance", "type": "TEAM"}],
    }
    tags = {
        "_producer": "p",
        "_schemaURL": "s",
        "tags": [
            {"key": "pii", "value": "true", "source": "CATALOG", "field": "email"},
            {"key": "gold", "value": "true", "source": "CATALOG"},
        ],
    }
    store.ingest(
        run_event(
            job="load_accounts",
            sql="SELECT id, email, iban_code FROM raw_accounts WHERE deleted = false",
            inputs=[dataset("raw_accounts", fields=["id", "email", "iban_code"], tags=tags)],
            outputs=[dataset("accounts", fields=["id", "email", "iban_code"], ownership=owners)],
        )
    )
    # a tags facet that is not a list must not break search on either backend
    odd = {"_producer": "p", "_schemaURL": "s", "tags": {"key": "pii"}}
    store.ingest(run_event(job="other", outputs=[dataset("odd", fields=["x"], tags=odd)], at=1))
    store.tag("pii", DatasetId("warehouse", "accounts"), "iban_code")
    store.tag("finance", DatasetId("warehouse", "accounts"))


def test_search_without_match_is_marquez_search(store):
    _described(store)
    found = store.search("accounts")
    assert [r["nodeId"] for r in found["results"]] == [
        "dataset:warehouse:accounts",
        "job:pipelines:load_accounts",
        "dataset:warehouse:raw_accounts",
    ]
    assert set(found["results"][0]) == {"type", "name", "updatedAt", "namespace", "nodeId"}
    assert store.search("email")["totalCount"] == 0  # a column: not a name


def test_search_by_column_tag_owner_sql_and_namespace(store):
    _described(store)

    def hits(q, *match, **kw):
        found = store.search(q, match=match, limit=50, **kw)
        assert found["totalCount"] == len(found["results"])
        return [(r["type"], r["nodeId"], r["matched"], r["detail"]) for r in found["results"]]

    assert hits("IBAN", "column") == [
        ("FIELD", "datasetField:warehouse:accounts:iban_code", "column", "string"),
        ("FIELD", "datasetField:warehouse:raw_accounts:iban_code", "column", "string"),
    ]
    field = store.search("iban", match=["column"])["results"][0]
    assert (field["dataset"], field["field"], field["name"]) == (
        "accounts",
        "iban_code",
        "iban_code",
    )
    # tags: stored on a field or a dataset, and the OpenLineage tags facet (per field or dataset)
    assert hits("pii", "tag") == [
        ("FIELD", "datasetField:warehouse:accounts:iban_code", "tag", "pii"),
        ("FIELD", "datasetField:warehouse:raw_accounts:email", "tag", "pii=true"),
    ]
    assert hits("gold", "tag") == [
        ("DATASET", "dataset:warehouse:raw_accounts", "tag", "gold=true")
    ]
    assert hits("finance", "tag") == [("DATASET", "dataset:warehouse:accounts", "tag", "finance")]
    assert hits("pii", "tag", kind="DATASET") == []
    assert hits("FINANCE", "owner") == [
        ("DATASET", "dataset:warehouse:accounts", "owner", "team-finance")
    ]
    # SQL: the job's current SQL, with the line that matched
    assert hits("deleted = false", "sql") == [
        (
            "JOB",
            "job:pipelines:load_accounts",
            "sql",
            "SELECT id, email, iban_code FROM raw_accounts WHERE deleted = false",
        )
    ]
    assert {r[1] for r in hits("pipel", "namespace")} == {
        "job:pipelines:load_accounts",
        "job:pipelines:other",
    }


def test_search_keeps_one_result_per_entity_ranked_by_what_matched(store):
    _described(store)
    # "finance" is the accounts dataset's tag and its owner: one result, matched by tag
    found = store.search("finance", match=["tag", "owner"])
    assert [(r["nodeId"], r["matched"]) for r in found["results"]] == [
        ("dataset:warehouse:accounts", "tag")
    ]
    everything = ["name", "namespace", "column", "tag", "owner", "sql"]
    ranked = store.search("raw_acc", match=everything, sort="RELEVANCE", limit=50)["results"]
    assert [(r["nodeId"], r["matched"]) for r in ranked] == [
        ("dataset:warehouse:raw_accounts", "name"),
        ("job:pipelines:load_accounts", "sql"),  # it reads raw_accounts: found by its SQL
    ]
    by_name = store.search("accounts", match=everything, sort="NAME", limit=50)["results"]
    assert [r["matched"] for r in by_name] == ["name", "name", "name"]  # once each
    only_fields = store.search("e", kind="FIELD", match=everything, limit=50)["results"]
    assert only_fields and {r["type"] for r in only_fields} == {"FIELD"}
    limited = store.search("a", match=everything, limit=2)
    assert len(limited["results"]) == 2 and limited["totalCount"] > 2
    assert store.search("%", match=everything)["totalCount"] == 0  # wildcards are literal
    assert store.search("accounts", match=["name"], namespace="elsewhere")["totalCount"] == 0


def test_child_runs(store):
    parent = str(uuid.uuid4())
    children = [str(uuid.uuid4()) for _ in range(3)]
    facet = {
        "parent": {
            "_producer": "p",
            "_schemaURL": "s",
            "run": {"runId": parent},
            "job": {"namespace": "pipelines", "name": "nightly"},
        }
    }
    store.ingest(run_event("START", job="nightly", run_id=parent, at=0))
    for i, child in enumerate(children):
        state = "FAIL" if i == 2 else "COMPLETE"
        store.ingest(run_event(state, job=f"nightly.step{i}", run_id=child, run_facets=facet, at=i))
    store.ingest(run_event(job="unrelated", at=5))
    runs, total = store.child_runs(parent)
    assert total == 3 and [r["id"] for r in runs] == children
    assert [r["jobVersion"]["name"] for r in runs] == [
        "nightly.step0",
        "nightly.step1",
        "nightly.step2",
    ]
    assert [r["state"] for r in runs] == ["COMPLETED", "COMPLETED", "FAILED"]
    assert all(r["parentRunId"] == parent for r in runs)
    page, total = store.child_runs(parent, limit=1, offset=1)
    assert total == 3 and [r["id"] for r in page] == children[1:2]
    assert store.child_runs(children[0]) == ([], 0)
    with pytest.raises(NotFound):
        store.child_runs("no-such-run")


def test_quality_history_keeps_every_result(store):
    def checked(results, at, event_type="COMPLETE", run_id=None):
        ds = checked_dataset("orders", results)
        return run_event(event_type, job="checks", run_id=run_id, inputs=[ds], at=at)

    store.ingest(checked([("not_null", True), ("unique", True)], 0))
    # one run that reports on START and again on COMPLETE counts once, with its latest report
    second = str(uuid.uuid4())
    store.ingest(checked([("not_null", True)], 10, "START", second))
    store.ingest(checked([("not_null", False)], 12, "COMPLETE", second))
    orders = DatasetId("warehouse", "orders")
    history, total = store.quality_history(orders)
    assert total == 3
    assert [(h["assertion"], h["success"]) for h in history][0] == ("not_null", False)
    assert {(h["assertion"], h["success"]) for h in history[1:]} == {
        ("not_null", True),
        ("unique", True),
    }
    assert history[0]["job"] == {"namespace": "pipelines", "name": "checks"}
    assert history[0]["eventTime"] > history[1]["eventTime"] and history[0]["runId"]
    assert len(store.quality_history(orders, limit=1)[0]) == 1
    with pytest.raises(NotFound):
        store.quality_history(DatasetId("warehouse", "nothing"))


def _edge(ds: str, field: str, *steps: tuple[str, str]) -> dict:
    """An input field of a columnLineage facet with the given (type, subtype) transformations."""
    ns, name = ds.split(":", 1)
    return {
        "namespace": ns,
        "name": name,
        "field": field,
        "transformations": [
            {"type": typ, "subtype": sub, "description": f"{sub}({field})", "masking": False}
            for typ, sub in steps
        ],
    }


def _job(store, job, inputs, outputs, at=0):
    """A completed run of ``job``: ``outputs`` maps a dataset to ``{field: [input fields]}``."""
    facets = {
        name: {
            "columnLineage": {
                "_producer": "p",
                "_schemaURL": "s",
                "fields": {f: {"inputFields": ins} for f, ins in fields.items()},
            }
        }
        for name, fields in outputs.items()
    }
    store.ingest(
        run_event(
            job=job,
            inputs=[dataset(i) for i in inputs],
            outputs=[dataset(o, **facets[o]) for o in outputs],
            at=at,
        )
    )


def _states(reach):
    """``(dataset, field, depth, direct, via (dataset, field, direct), jobs)`` per state."""
    out = []
    for s in reach.states:
        via = reach.states[s.via] if s.via is not None else None
        out.append(
            (
                s.dataset.name,
                s.field,
                s.depth,
                s.direct,
                (via.dataset.name, via.field, via.direct) if via else None,
                tuple(j.name for j in s.jobs),
            )
        )
    return out


def test_column_downstream_walks_the_tree_in_the_database(store):
    """The one-statement walk: depth, kind, predecessor, transformations and jobs per field."""
    owned = {"ownership": {"_producer": "p", "_schemaURL": "s", "owners": [{"name": "team-a"}]}}
    _retail(store)
    store.ingest(
        run_event(job="customer_revenue_aggregation", outputs=[dataset("summary", **owned)])
    )
    quantity = (DatasetId("warehouse", "orders"), "quantity")
    reach = store.column_downstream(quantity, 10, facets=["ownership"])
    assert _states(reach) == [
        ("orders", "quantity", 0, True, None, ()),
        ("staging", "quantity", 1, True, ("orders", "quantity", True), ("customer_orders_etl",)),
        (
            "summary",
            "total_profit",
            2,
            True,
            ("staging", "quantity", True),
            ("customer_revenue_aggregation",),
        ),
    ]
    assert reach.states[2].transformations[0]["subtype"] == "AGGREGATION"
    assert reach.facets == {DatasetId("warehouse", "summary"): owned}
    assert store.column_downstream(quantity, 1).states[-1].field == "quantity"
    # the dataset-level JOIN dependencies (out_field '') lead nowhere
    key = store.column_downstream((DatasetId("warehouse", "customers"), "customer_id"), 10)
    assert [(s.dataset.name, s.field) for s in key.states] == [("customers", "customer_id")]
    assert store.column_downstream((DatasetId("warehouse", "nope"), "x"), 10).states == []


def test_column_downstream_tells_direct_from_indirect(store):
    """A field reached both along DIRECT edges and through a filter has both states; an edge
    whose first transformation is INDIRECT but which also has a DIRECT one counts as DIRECT."""
    _job(
        store,
        "j1",
        ["a"],
        {
            "b": {
                "y": [_edge("warehouse:a", "x", ("INDIRECT", "FILTER"))],
                "z": [_edge("warehouse:a", "x", ("INDIRECT", "FILTER"), ("DIRECT", "IDENTITY"))],
            }
        },
    )
    _job(
        store,
        "j2",
        ["b"],
        {
            "c": {
                "w": [
                    _edge("warehouse:b", "y", ("DIRECT", "IDENTITY")),
                    _edge("warehouse:b", "z", ("DIRECT", "TRANSFORMATION")),
                ],
                "v": [_edge("warehouse:b", "y", ("DIRECT", "IDENTITY"))],
            }
        },
        at=1,
    )
    reach = store.column_downstream((DatasetId("warehouse", "a"), "x"), 10)
    assert sorted(_states(reach)[1:]) == [
        ("b", "y", 1, False, ("a", "x", True), ("j1",)),
        ("b", "z", 1, True, ("a", "x", True), ("j1",)),
        ("c", "v", 2, False, ("b", "y", False), ("j2",)),
        ("c", "w", 2, False, ("b", "y", False), ("j2",)),
        ("c", "w", 2, True, ("b", "z", True), ("j2",)),
    ]
    assert [s.depth for s in reach.states] == sorted(s.depth for s in reach.states)


def test_column_downstream_is_cycle_safe_and_bounded(store):
    """a.x -> b.x -> a.x is a cycle: the start is not re-entered (its state lists the job that
    writes back into it), nothing is reached twice, and the walk stops at the depth asked."""
    _job(store, "ab", ["a"], {"b": {"x": [_edge("warehouse:a", "x", ("DIRECT", "IDENTITY"))]}})
    _job(store, "ba", ["b"], {"a": {"x": [_edge("warehouse:b", "x", ("DIRECT", "IDENTITY"))]}}, 1)
    _job(
        store,
        "bc",
        ["b", "c"],
        {"c": {"x": [_edge("warehouse:b", "x", ("DIRECT", "IDENTITY"))]}},
        2,
    )
    _job(store, "cb", ["c"], {"b": {"y": [_edge("warehouse:c", "x", ("DIRECT", "IDENTITY"))]}}, 3)
    start = (DatasetId("warehouse", "a"), "x")
    assert _states(store.column_downstream(start, 20)) == [
        ("a", "x", 0, True, None, ("ba",)),
        ("b", "x", 1, True, ("a", "x", True), ("ab",)),
        ("c", "x", 2, True, ("b", "x", True), ("bc",)),
        ("b", "y", 3, True, ("c", "x", True), ("cb",)),
    ]
    assert _states(store.column_downstream(start, 2))[-1][:3] == ("c", "x", 2)
    # edges out of the last level are not followed: no job writes back into the start yet
    assert _states(store.column_downstream(start, 1)) == [
        ("a", "x", 0, True, None, ()),
        ("b", "x", 1, True, ("a", "x", True), ("ab",)),
    ]


def test_column_downstream_lists_every_job_into_a_field(store):
    """Two jobs write out.v, from a.x and from b.x; both are listed once b.x is reached above
    the depth limit. Ties between equally short paths go to the edge recorded first."""
    _job(store, "to_b", ["a"], {"b": {"x": [_edge("warehouse:a", "x", ("DIRECT", "IDENTITY"))]}})
    _job(
        store,
        "from_a",
        ["a"],
        {"out": {"v": [_edge("warehouse:a", "x", ("DIRECT", "IDENTITY"))]}},
        1,
    )
    _job(
        store,
        "from_b",
        ["b"],
        {"out": {"v": [_edge("warehouse:b", "x", ("DIRECT", "IDENTITY"))]}},
        2,
    )
    _job(
        store,
        "fan",
        ["b", "out"],
        {
            "c": {
                "x": [
                    _edge("warehouse:out", "v", ("DIRECT", "IDENTITY")),
                    _edge("warehouse:b", "x", ("DIRECT", "IDENTITY")),
                ]
            }
        },
        3,
    )
    start = (DatasetId("warehouse", "a"), "x")
    deep = _states(store.column_downstream(start, 5))
    assert deep[1:] == [
        ("b", "x", 1, True, ("a", "x", True), ("to_b",)),
        ("out", "v", 1, True, ("a", "x", True), ("from_a", "from_b")),
        ("c", "x", 2, True, ("out", "v", True), ("fan",)),  # out.v's edge was recorded first
    ]
    shallow = _states(store.column_downstream(start, 1))
    assert shallow[2] == ("out", "v", 1, True, ("a", "x", True), ("from_a",))


def test_column_downstream_as_of(store):
    """The walk follows the job version of the time asked for."""
    from datetime import timedelta

    from factories import T0

    _job(
        store,
        "switcher",
        ["a"],
        {"out": {"v": [_edge("warehouse:a", "x", ("DIRECT", "IDENTITY"))]}},
        0,
    )
    _job(
        store,
        "switcher",
        ["b"],
        {"out": {"v": [_edge("warehouse:b", "y", ("DIRECT", "IDENTITY"))]}},
        100,
    )
    a, b = (DatasetId("warehouse", "a"), "x"), (DatasetId("warehouse", "b"), "y")
    then = T0 + timedelta(seconds=50)
    assert [s.dataset.name for s in store.column_downstream(a, 5, then).states] == ["a", "out"]
    assert [s.dataset.name for s in store.column_downstream(a, 5).states] == ["a"]
    assert [s.dataset.name for s in store.column_downstream(b, 5).states] == ["b", "out"]
    assert [s.dataset.name for s in store.column_downstream(b, 5, then).states] == ["b"]
    before = T0 - timedelta(days=1)
    assert [s.dataset.name for s in store.column_downstream(a, 5, before).states] == ["a"]


def test_jobs_reached_in_one_walk(store):
    """Table-level walks: jobs within a depth in one direction, with all their inputs and
    outputs; a cycle ends; a job start is part of the answer; as of a time."""
    from datetime import timedelta

    from factories import T0

    _retail(store)
    store.ingest(
        run_event(job="loop", inputs=[dataset("summary")], outputs=[dataset("orders")], at=30)
    )

    def reached(start, depth, direction, as_of=None):
        return {
            (te.job.name, tuple(d.name for d in te.inputs), tuple(d.name for d in te.outputs))
            for te in store.jobs_reached(start, depth, direction, as_of)
        }

    orders = DatasetId("warehouse", "orders")
    etl = ("customer_orders_etl", ("customers", "orders"), ("staging",))
    agg = ("customer_revenue_aggregation", ("products", "staging"), ("summary",))
    loop = ("loop", ("summary",), ("orders",))
    assert reached(orders, 1, "downstream") == {etl}
    assert reached(orders, 20, "downstream") == {etl, agg, loop}
    assert reached(orders, 20, "upstream") == {loop, agg, etl}
    assert reached(orders, 0, "downstream") == set()
    assert reached(JobId("pipelines", "loop"), 1, "downstream") == {loop, etl}
    assert reached(JobId("pipelines", "loop"), 0, "upstream") == {loop}
    assert reached(orders, 20, "downstream", T0 + timedelta(seconds=5)) == {etl}
    assert store.jobs_reached(DatasetId("warehouse", "nope"), 5, "downstream") == []


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_column_downstream_matches_a_breadth_first_search(store, seed):
    """Random graphs with cycles, INDIRECT steps and several jobs per output, against a plain
    breadth-first search over (field, all-DIRECT-so-far) states, written from the contract."""
    import random
    from collections import defaultdict

    rng = random.Random(seed)
    fields = [(f"t{i}", f) for i in range(7) for f in ("p", "q")]
    edges = []  # (job, (in_ds, in_field), (out_ds, out_field), has_direct), as recorded
    for j in range(12):
        out = rng.choice(range(7))
        ins = sorted({rng.randrange(7) for _ in range(rng.randint(1, 3))})
        mapping: dict = {}
        for f in ("p", "q"):
            for i in ins:
                if rng.random() < 0.6:
                    kinds = rng.choice(
                        [
                            [("DIRECT", "IDENTITY")],
                            [("INDIRECT", "FILTER")],
                            [("INDIRECT", "JOIN"), ("DIRECT", "TRANSFORMATION")],
                        ]
                    )
                    field = rng.choice(("p", "q"))
                    mapping.setdefault(f, []).append(_edge(f"warehouse:t{i}", field, *kinds))
                    direct = any(k == "DIRECT" for k, _ in kinds)
                    edges.append((f"j{j}", (f"t{i}", field), (f"t{out}", f), direct))
        _job(store, f"j{j}", [f"t{i}" for i in ins], {f"t{out}": mapping}, at=j)
    start, depth = fields[0], 4
    # reference: BFS over states (field, direct), then the predecessor rule of the contract
    dist = {(start, True): 0}
    frontier = [(start, True)]
    for level in range(1, depth + 1):
        nxt = []
        for node, kind in frontier:
            for _, a, b, direct in edges:
                state = (b, kind and direct)
                if a == node and b != start and state not in dist:
                    dist[state] = level
                    nxt.append(state)
        frontier = nxt
    nearest: dict = defaultdict(lambda: depth + 1)
    for (node, _), d in dist.items():
        nearest[node] = min(nearest[node], d)
    expected = set()
    for (node, kind), d in dist.items():
        jobs = tuple(sorted({j for j, a, b, _ in edges if b == node and nearest[a] < depth}))
        via = None
        if d:
            candidates = [
                (not pk, i, a, pk)
                for i, (_, a, b, direct) in enumerate(edges)
                for pk in (True, False)
                if b == node and dist.get((a, pk)) == d - 1 and (pk and direct) == kind
            ]
            _, _, a, pk = min(candidates)
            via = (a[0], a[1], pk)
        expected.add((node[0], node[1], d, kind, via, jobs))
    reach = store.column_downstream((DatasetId("warehouse", start[0]), start[1]), depth)
    assert set(_states(reach)) == expected
    order = [
        (s.depth, s.dataset.namespace, s.dataset.name, s.field, s.direct) for s in reach.states
    ]
    assert order == sorted(order)  # as a report lists them


@pytest.mark.parametrize("literal", ["1180591620717411303424", "1e999", "NaN", "1e-7"])
def test_numbers_only_some_parsers_read_hash_alike_at_ingest_and_audit(store, literal):
    """Numbers orjson reads otherwise (beyond 64 bits: as floats) or not at all (an infinity,
    NaN): appended once, verified by the audit, and distinct from ``null`` there."""
    event = run_event(job="numbers", run_facets={"custom": {"_producer": "p", "_schemaURL": "s"}})
    text = json.dumps(event).replace('"_producer": "p"', f'"_producer": "p", "v": {literal}')
    null = text.replace(literal, "null")
    first = store.ingest(text.encode())
    assert store.ingest(text.encode()).duplicate
    assert not store.ingest(null.encode()).duplicate
    assert store.ingest_many([text.encode()])[0].result.event_id == first.event_id
    report = verify_chain(store)
    assert report.ok and report.checked == 2, report
