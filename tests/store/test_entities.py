"""Marquez entities completed from their rows (:mod:`headwater.store.entities`)."""

from sqlalchemy import event, select

from factories import dataset, run_event
from headwater.store import entities
from headwater.store import schema as t


def test_chunks_bound_in_lists():
    assert [len(c) for c in entities.chunks(list(range(1_201)))] == [500, 500, 201]
    assert list(entities.chunks([])) == []


def test_node_rows_reads_any_number_of_keys_in_one_statement(store):
    for i in range(3):
        store.ingest(run_event(job=f"j{i}", outputs=[dataset(f"out{i}")], at=i))
    store.catch_up()
    statements = []
    with store.engine.connect() as conn:
        ids = [r.id for r in conn.execute(select(t.datasets.c.id))]
        wanted = ids + list(range(10_000, 11_000))  # 1,000 keys that match nothing
        event.listen(conn, "before_cursor_execute", lambda *a: statements.append(a[2]))
        rows = entities.node_rows(conn, store.dialect, t.datasets, wanted, [t.datasets.c.name])
        names = sorted(r.name for r in rows)
        assert entities.node_rows(conn, store.dialect, t.datasets, [], [t.datasets.c.name]) == []
    assert names == ["out0", "out1", "out2"]
    assert len(statements) == 1  # one list parameter, not one IN list per 500 keys
