"""A real ``headwater serve`` process, the real openlineage-python client, marquez-python, raw HTTP."""

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from marquez_client import MarquezClient
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import column_lineage_dataset, schema_dataset, sql_job
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)

pytestmark = pytest.mark.e2e
PRODUCER = "https://github.com/headwater-lineage/headwater/tests"


def _events(run_id: str) -> list[RunEvent]:
    job = Job(
        namespace="retail",
        name="customer_orders_etl",
        facets={
            "sql": sql_job.SQLJobFacet(
                query="SELECT o.order_id, c.first_name FROM orders o JOIN customers c USING (customer_id)"
            )
        },
    )
    inputs = [
        InputDataset(
            "warehouse",
            "orders",
            facets={
                "schema": schema_dataset.SchemaDatasetFacet(
                    fields=[
                        schema_dataset.SchemaDatasetFacetFields(name="order_id", type="bigint"),
                        schema_dataset.SchemaDatasetFacetFields(name="customer_id", type="bigint"),
                    ]
                )
            },
        ),
        InputDataset(
            "warehouse",
            "customers",
            facets={
                "schema": schema_dataset.SchemaDatasetFacet(
                    fields=[
                        schema_dataset.SchemaDatasetFacetFields(name="customer_id", type="bigint"),
                        schema_dataset.SchemaDatasetFacetFields(name="first_name", type="varchar"),
                    ]
                )
            },
        ),
    ]
    cll = column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            "order_id": column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        "warehouse",
                        "orders",
                        "order_id",
                        transformations=[
                            column_lineage_dataset.Transformation(
                                type="DIRECT",
                                subtype="IDENTITY",
                                description="o.order_id",
                                masking=False,
                            )
                        ],
                    )
                ]
            ),
            "first_name": column_lineage_dataset.Fields(
                inputFields=[
                    column_lineage_dataset.InputField(
                        "warehouse",
                        "customers",
                        "first_name",
                        transformations=[
                            column_lineage_dataset.Transformation(
                                type="DIRECT",
                                subtype="IDENTITY",
                                description="c.first_name",
                                masking=False,
                            )
                        ],
                    )
                ]
            ),
        }
    )
    output = OutputDataset(
        "warehouse",
        "customer_orders_staging",
        facets={
            "columnLineage": cll,
            "schema": schema_dataset.SchemaDatasetFacet(
                fields=[
                    schema_dataset.SchemaDatasetFacetFields(name="order_id", type="bigint"),
                    schema_dataset.SchemaDatasetFacetFields(name="first_name", type="varchar"),
                ]
            ),
        },
    )
    now = datetime.now(UTC).isoformat()
    return [
        RunEvent(
            eventType=RunState.START,
            eventTime=now,
            run=Run(runId=run_id),
            job=job,
            producer=PRODUCER,
            inputs=inputs,
        ),
        RunEvent(
            eventType=RunState.COMPLETE,
            eventTime=now,
            run=Run(runId=run_id),
            job=job,
            producer=PRODUCER,
            outputs=[output],
        ),
    ]


def test_openlineage_client_to_marquez_client(server_factory):
    url = server_factory(env={"HEADWATER_API_KEYS": "secret-rw:rw,viewer:ro"})
    transport = HttpTransport(
        HttpConfig(
            url=url,
            auth=ApiKeyTokenProvider({"apiKey": "secret-rw"}),
            compression=HttpCompression.GZIP,
        )
    )
    client = OpenLineageClient(transport=transport)
    run_id = str(uuid.uuid4())
    for event in _events(run_id):
        client.emit(event)

    marquez = MarquezClient(url=url, api_key="viewer")
    assert {n["name"] for n in marquez.list_namespaces()["namespaces"]} == {"retail", "warehouse"}
    staging = marquez.get_dataset("warehouse", "customer_orders_staging")
    assert [f["name"] for f in staging["fields"]] == ["order_id", "first_name"]
    job = marquez.get_job("retail", "customer_orders_etl")
    assert {d["name"] for d in job["inputs"]} == {"orders", "customers"}
    assert marquez.get_job_run(run_id)["state"] == "COMPLETED"
    assert marquez.list_job_runs("retail", "customer_orders_etl")["runs"][0]["id"] == run_id
    cl = marquez.get_column_lineage_by_dataset_field(
        "warehouse", "customer_orders_staging", "first_name", depth=3
    )
    node = next(n for n in cl["graph"] if n["id"].endswith(":first_name") and "staging" in n["id"])
    assert node["data"]["inputFields"][0]["field"] == "first_name"
    assert marquez.list_events(limit=10)["totalCount"] == 2

    # raw HTTP: a read-only key may not write; no key is refused
    denied = httpx.post(
        f"{url}/api/v1/lineage", json={}, headers={"Authorization": "Bearer viewer"}
    )
    assert denied.status_code == 403 and denied.json()["code"] == 403
    assert httpx.get(f"{url}/api/v1/namespaces").status_code == 401
    lineage = httpx.get(
        f"{url}/api/v1/lineage",
        params={"nodeId": "dataset:warehouse:customers", "direction": "downstream"},
        headers={"Authorization": "Bearer viewer"},
    ).json()
    assert {n["id"] for n in lineage["graph"]} == {
        "dataset:warehouse:customers",
        "job:retail:customer_orders_etl",
        "dataset:warehouse:customer_orders_staging",
    }


@pytest.mark.postgres
def test_two_workers_on_postgres(server_factory, fresh_postgres_url):
    url = server_factory(db_url=fresh_postgres_url, workers=2)
    client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=url)))
    run_ids = [str(uuid.uuid4()) for _ in range(15)]
    for run_id in run_ids:
        for event in _events(run_id):
            client.emit(event)
    events = httpx.get(f"{url}/api/v1/events/lineage", params={"limit": 100}).json()
    assert events["totalCount"] == 30
    runs = httpx.get(
        f"{url}/api/v1/namespaces/retail/jobs/customer_orders_etl/runs", params={"limit": 100}
    ).json()
    assert {r["id"] for r in runs["runs"]} == set(run_ids)
    assert all(r["state"] == "COMPLETED" for r in runs["runs"])


def test_serve_projects_in_a_process_of_its_own(tmp_path):
    """`headwater serve` starts a projector process: accepted events reach the lineage tables
    without any read asking for them, and the process ends with the server."""
    import subprocess
    import time

    from headwater.store import open_store
    from servers import serving

    db_url = f"sqlite:///{tmp_path / 'projected.db'}"

    def followers() -> list[str]:
        pattern = f"db project --follow --quiet --db {db_url}"
        found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        return found.stdout.split()

    with serving(db_url) as url:
        client = OpenLineageClient(transport=HttpTransport(HttpConfig(url=url)))
        for event in _events(str(uuid.uuid4())):
            client.emit(event)
        store = open_store(db_url)
        try:
            deadline = time.time() + 10
            while store.pending() and time.time() < deadline:
                time.sleep(0.05)
            assert store.pending() == 0  # reads the watermark; it projects nothing itself
        finally:
            store.close()
        assert len(followers()) == 1
    deadline = time.time() + 10
    while followers() and time.time() < deadline:
        time.sleep(0.1)
    assert followers() == []


def test_the_projector_ends_with_a_server_stopped_while_starting_or_killed(tmp_path):
    """No projector outlives its server: not when the server is stopped while the projector is
    still starting (before it could watch its parent), nor when the server is killed."""
    import signal
    import subprocess
    import sys
    import time

    from servers import free_port

    db_url = f"sqlite:///{tmp_path / 'orphan.db'}"
    pattern = f"db project --follow --quiet --db {db_url}"

    def followers() -> list[str]:
        found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        return found.stdout.split()

    def until(condition, seconds: float) -> bool:
        deadline = time.time() + seconds
        while not condition() and time.time() < deadline:
            time.sleep(0.05)
        return condition()

    for stop, wait_for_health in ((signal.SIGTERM, False), (signal.SIGKILL, True)):
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "headwater", "serve", "--port", str(port), "--db", db_url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert until(lambda: bool(followers()), 30), "no projector started"
            if wait_for_health:
                url = f"http://127.0.0.1:{port}"
                assert until(lambda url=url: _answers(url), 30)
            server.send_signal(stop)
            server.wait(timeout=30)
            assert until(lambda: not followers(), 10), f"projector outlived a {stop.name}"
        finally:
            server.kill()
            for pid in followers():
                subprocess.run(["kill", pid], check=False)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
