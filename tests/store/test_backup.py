"""Online backups of a SQLite store (:mod:`headwater.store.backup`)."""

import sqlite3
import threading

import pytest

from factories import dataset, run_event
from headwater.model import DatasetId
from headwater.store import open_store
from headwater.store.audit import verify_chain
from headwater.store.backup import backup
from headwater.store.base import StoreError


def _fill(store, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        store.ingest(run_event(job=f"j{i}", outputs=[dataset(f"t{i}", fields=["a"])], at=i))


def test_a_backup_is_both_files_and_opens_as_the_store(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    _fill(store, 20)
    store.catch_up()
    done = backup(store, tmp_path / "copy.db")
    assert (done.store_file, done.log_file, done.events) == (
        tmp_path / "copy.db",
        tmp_path / "copy.events.db",
        20,
    )
    for path in (done.store_file, done.log_file):  # kept as the store keeps its files
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    copy = open_store(f"sqlite:///{done.store_file}")
    assert copy.list_events()[1] == 20 and verify_chain(copy).ok
    assert copy.get_dataset(DatasetId("warehouse", "t7"))["fields"][0]["name"] == "a"
    assert list(copy.export_events()) == list(store.export_events())
    copy.close()
    store.close()


def test_a_backup_taken_while_events_arrive_is_consistent(tmp_path):
    """Appends and projection go on during the copy; the copy's log holds at least every event
    its tables were projected from, and its chain verifies."""
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    writer = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    _fill(store, 50)
    stop = threading.Event()

    def keep_writing() -> None:
        i = 1_000
        while not stop.is_set():
            _fill(writer, 5, start=i)
            writer.catch_up()
            i += 5

    thread = threading.Thread(target=keep_writing)
    thread.start()
    try:
        done = backup(store, tmp_path / "copy.db")
    finally:
        stop.set()
        thread.join()
    copy = open_store(f"sqlite:///{done.store_file}")
    assert copy.list_events()[1] == done.events >= 50
    report = verify_chain(copy)  # projects what the copy's tables had not, then verifies
    assert report.ok and report.checked == done.events and copy.pending() == 0
    copy.close()
    writer.close()
    store.close()


def test_a_backup_never_overwrites(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'h.db'}")
    _fill(store, 2)
    (tmp_path / "copy.events.db").write_bytes(b"precious")
    with pytest.raises(StoreError, match=r"copy\.events\.db exists"):
        backup(store, tmp_path / "copy.db")
    assert (tmp_path / "copy.events.db").read_bytes() == b"precious"
    assert not (tmp_path / "copy.db").exists()
    with pytest.raises(StoreError, match="is not a directory"):
        backup(store, tmp_path / "missing" / "copy.db")
    store.close()


@pytest.mark.postgres
def test_postgresql_is_backed_up_with_its_own_tools(fresh_postgres_url, tmp_path):
    store = open_store(fresh_postgres_url)
    try:
        with pytest.raises(StoreError, match="pg_dump"):
            backup(store, tmp_path / "copy.db")
        assert not list(tmp_path.iterdir())
    finally:
        store.close()
