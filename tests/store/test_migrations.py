"""An older database is upgraded in place, never wiped."""

from sqlalchemy import inspect, text

from factories import dataset, run_event
from headwater.model import DatasetId, JobId
from headwater.store import open_store
from headwater.store.audit import verify_chain
from headwater.store.migrate import current_revision, head_revision
from headwater.store.sql import SqlStore


def test_upgrade_from_0001_keeps_data(store_url):
    old = SqlStore(store_url)
    old.upgrade()
    old.ingest(run_event(outputs=[dataset("kept", fields=["a"])]))
    # make it look like a database created by the 0001 release
    old.ingest(run_event(job="second", outputs=[dataset("kept2", fields=["b"])]))
    assert old.catch_up() == 2
    with old.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_jobs_current_version"))
        conn.execute(text("DROP TABLE projection_errors"))
        conn.execute(text("DROP TABLE projection"))
        conn.execute(text("DROP TABLE chain_head"))
        conn.execute(text("CREATE INDEX ix_events_run ON events (run_id)"))
        conn.execute(text("CREATE INDEX ix_events_job ON events (job_namespace, job_name)"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert current_revision(old.engine) == "0001"
    old.close()

    store = open_store(store_url)
    assert isinstance(store, SqlStore)
    assert current_revision(store.engine) == head_revision() == "0005"
    indexes = {ix["name"] for ix in inspect(store.engine).get_indexes("jobs")}
    assert "ix_jobs_current_version" in indexes
    event_indexes = {ix["name"] for ix in inspect(store.engine).get_indexes("events")}
    assert "ix_events_time" in event_indexes and not event_indexes & {
        "ix_events_run",
        "ix_events_job",
    }
    # 0003: the events an older release projected on ingest are not projected again
    assert store.pending() == 0
    assert len(store.list_runs(JobId("pipelines", "second"))[0]) == 1
    assert store.get_dataset(DatasetId("warehouse", "kept"))["fields"][0]["name"] == "a"
    assert store.list_events()[1] == 2
    # 0004: the chain head is the newest event's, so new events chain on from it
    store.ingest(run_event(job="third"))
    report = verify_chain(store)
    assert report.ok and report.checked == 3, report
    store.close()


def test_reopening_is_a_no_op(store_url):
    first = open_store(store_url)
    first.ingest(run_event())
    first.close()
    again = open_store(store_url)
    assert again.list_events()[1] == 1
    again.close()
