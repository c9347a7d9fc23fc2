"""An older database is upgraded in place, never wiped."""

import pytest
from alembic import command
from sqlalchemy import Engine, delete, inspect, text, update

from factories import dataset, run_event
from headwater.model import DatasetId, JobId
from headwater.store import open_store
from headwater.store import schema as t
from headwater.store.audit import verify_chain
from headwater.store.migrate import (
    alembic_config,
    check_references,
    current_revision,
    head_revision,
    migrating,
)
from headwater.store.sql import SqlStore


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to ``revision`` with the revisions' own downgrades."""
    with migrating(engine) as conn:
        command.downgrade(alembic_config(conn), revision)
        check_references(conn)


def event_keys(engine: Engine) -> tuple[set[str], list[list[str]]]:
    """The names of the log's indexes and the columns of its unique indexes and constraints."""
    found = inspect(engine)
    indexes = [ix for ix in found.get_indexes("events") if "duplicates_constraint" not in ix]
    uniques = [ix["column_names"] for ix in indexes if ix["unique"]]
    uniques += [u["column_names"] for u in found.get_unique_constraints("events")]
    return {ix["name"] for ix in indexes}, uniques


def test_upgrade_from_0001_keeps_data(store_url):
    old = SqlStore(store_url)
    old.upgrade()
    old.ingest(run_event(outputs=[dataset("kept", fields=["a"])]))
    # make it look like a database created by the 0001 release
    old.ingest(run_event(job="second", outputs=[dataset("kept2", fields=["b"])]))
    assert old.catch_up() == 2
    downgrade(old.engine, "0005")
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
    assert current_revision(store.engine) == head_revision() == "0008"
    indexes = {ix["name"] for ix in inspect(store.engine).get_indexes("jobs")}
    assert "ix_jobs_current_version" in indexes
    event_indexes, uniques = event_keys(store.log_engine)  # 0008: on SQLite, the log's file
    assert event_indexes == {"ux_events_key", "ix_events_pruned"}  # 0005, 0006, 0007
    assert uniques == [["event_time", "content_hash"]]
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


def test_upgrade_to_0006_keys_the_log_by_time_and_hash(store_url):
    old = SqlStore(store_url)
    old.upgrade()
    first = run_event(outputs=[dataset("kept", fields=["a"])])
    old.ingest(first)
    old.ingest(run_event(job="second", event_type="COMPLETE"))
    assert old.catch_up() == 2
    downgrade(old.engine, "0005")
    assert event_keys(old.engine) == ({"ix_events_time"}, [["content_hash"]])
    old.close()

    store = open_store(store_url)  # upgrades (on SQLite: rebuilds the log table)
    assert isinstance(store, SqlStore)
    assert current_revision(store.engine) == head_revision()
    assert event_keys(store.log_engine) == (
        {"ux_events_key", "ix_events_pruned"},
        [["event_time", "content_hash"]],
    )
    assert store.ingest(first).duplicate  # still logged once
    assert store.list_events()[1] == 2 and store.pending() == 0
    runs, _ = store.list_runs(JobId("pipelines", "second"))
    assert runs[0]["state"] == "COMPLETED"  # the projected rows still point at their events
    assert store.get_dataset(DatasetId("warehouse", "kept"))["fields"][0]["name"] == "a"
    store.ingest(run_event(job="third"))
    report = verify_chain(store)
    assert report.ok and report.checked == 3, report
    store.close()


def test_a_migration_leaving_broken_references_is_rolled_back(tmp_path):
    """SQLite migrates with foreign keys off; rows left referring to missing ones undo it."""
    store = SqlStore(f"sqlite:///{tmp_path / 'lineage.db'}")
    store.upgrade()
    with pytest.raises(RuntimeError, match="referring to missing"), migrating(store.engine) as conn:
        conn.execute(
            text(
                "INSERT INTO job_version_io (job_version_id, dataset_id, direction)"
                " VALUES (999, 999, 'in')"
            )
        )
        check_references(conn)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM job_version_io")).scalar_one() == 0
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    store.close()


def test_upgrade_to_0007_indexes_pruned_events(store_url):
    """Events pruned before 0007 (the index did not exist) are in the index after it."""
    old = SqlStore(store_url)
    old.upgrade()
    for i in range(3):
        old.ingest(run_event(job=f"j{i}", at=i * 60))
    downgrade(old.engine, "0006")
    assert event_keys(old.engine)[0] == {"ux_events_key"}
    with old.engine.begin() as conn:  # retention as the 0006 release ran it, in the store's file
        emptied = conn.execute(update(t.events).where(t.events.c.id <= 2).values(raw=b""))
        assert emptied.rowcount == 2
    old.close()

    store = open_store(store_url)
    assert isinstance(store, SqlStore)
    assert current_revision(store.engine) == head_revision()
    assert "ix_events_pruned" in event_keys(store.log_engine)[0]
    events, total = store.list_events()
    assert [e["job"]["name"] for e in events] == ["j2"] and total == 1
    store.close()


def test_the_schema_revision_is_the_newest_migration():
    """Opening a store skips Alembic when the database is at ``schema.REVISION``: it must be
    the newest revision shipped (bump it with every migration)."""
    from headwater.store import schema

    assert head_revision() == schema.REVISION


def test_a_store_at_the_newest_revision_opens_without_alembic(store_url, monkeypatch):
    """An up-to-date database is recognized by one read; an older one still migrates."""
    import headwater.store.migrate as migrate

    open_store(store_url).close()  # created and stamped
    calls = []
    real = migrate.upgrade
    monkeypatch.setattr(migrate, "upgrade", lambda engine: calls.append(engine) or real(engine))
    open_store(store_url).close()
    assert calls == []
    store = SqlStore(store_url)
    downgrade(store.engine, "0006")
    store.upgrade()
    assert len(calls) == 1 and current_revision(store.engine) == head_revision()
    store.close()


def test_a_move_of_the_log_cut_short_is_made_again(tmp_path):
    """SQLite: the log is copied into its file before 0008 drops it from the store's; a copy a
    crash left partial (the store still at 0007) is replaced at the next start, and 0008 run
    on its own refuses to drop the store file's log while the copy is short."""
    url = f"sqlite:///{tmp_path / 'h.db'}"
    old = SqlStore(url)
    old.upgrade()
    for i in range(3):
        old.ingest(run_event(job=f"j{i}", outputs=[dataset(f"t{i}")], at=i))
    assert old.catch_up() == 3
    downgrade(old.engine, "0007")  # the log back in the store's file; its own file keeps a copy
    with old.log_engine.begin() as conn:  # the copy as a crash mid-way left it
        conn.execute(delete(t.events).where(t.events.c.id > 1))
    with pytest.raises(RuntimeError, match="copy holds 1 events"), migrating(old.engine) as conn:
        command.upgrade(alembic_config(conn), "head")
    assert current_revision(old.engine) == "0007"
    old.close()

    store = open_store(url)
    assert isinstance(store, SqlStore)
    assert current_revision(store.engine) == head_revision()
    assert store.list_events()[1] == 3 and store.pending() == 0
    store.ingest(run_event(job="after"))
    report = verify_chain(store)
    assert report.ok and report.checked == 4, report
    store.close()
