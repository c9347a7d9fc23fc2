"""The CLI over a real SQLite store, in-process (CliRunner) and as a real subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factories import dataset, run_event
from headwater.cli.main import app
from headwater.store.migrate import head_revision

runner = CliRunner()


@pytest.fixture
def db(tmp_path, shared_dir):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    result = runner.invoke(app, ["ingest", str(shared_dir / "openlineage-events"), "--db", url])
    assert result.exit_code == 0, result.output
    assert "stored 70, duplicate 4, rejected 0" in result.output
    return url


def test_ingest_reports_rejections(tmp_path):
    good = run_event(outputs=[dataset("t")])
    bad = run_event()
    bad["eventType"] = "NOPE"
    ndjson = tmp_path / "events.ndjson"
    ndjson.write_text(json.dumps(good) + "\n\n" + json.dumps(bad) + "\n{broken\n")
    result = runner.invoke(app, ["ingest", str(ndjson), "--db", f"sqlite:///{tmp_path / 'x.db'}"])
    assert result.exit_code == 1
    assert "stored 1, duplicate 0, rejected 2" in result.output
    assert "events.ndjson:3: $.eventType" in result.output
    assert "events.ndjson:4: malformed JSON" in result.output


def test_export_round_trip_bytes(tmp_path, shared_dir):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    one_line = json.dumps(run_event(outputs=[dataset("t")]), separators=(",", ":"))
    src = tmp_path / "one.json"
    src.write_text(one_line)
    assert runner.invoke(app, ["ingest", str(src), "--db", url]).exit_code == 0
    out = tmp_path / "out.ndjson"
    assert runner.invoke(app, ["export", "--db", url, "--output", str(out)]).exit_code == 0
    assert out.read_text() == one_line + "\n"  # byte-for-byte
    # and a whole export re-ingests into an identical event log
    url2 = f"sqlite:///{tmp_path / 'b.db'}"
    assert (
        runner.invoke(
            app, ["ingest", str(shared_dir / "openlineage-events"), "--db", url2]
        ).exit_code
        == 0
    )
    full = tmp_path / "full.ndjson"
    runner.invoke(app, ["export", "--db", url2, "-o", str(full)])
    url3 = f"sqlite:///{tmp_path / 'c.db'}"
    again = runner.invoke(app, ["ingest", str(full), "--db", url3])
    assert "stored 70, duplicate 0" in again.output


def test_lineage_formats(db):
    table = runner.invoke(
        app, ["lineage", "dataset:bigquery:mock-project.test.upload", "--downstream", "--db", db]
    )
    assert table.exit_code == 0 and "BQ.copy" in table.output
    as_json = runner.invoke(
        app,
        [
            "lineage",
            "dataset:bigquery:mock-project.test.upload",
            "--downstream",
            "-f",
            "json",
            "--db",
            db,
        ],
    )
    ids = {n["id"] for n in json.loads(as_json.stdout)["graph"]}
    assert "dataset:gs://mock-bucket:result.csv" in ids
    dot = runner.invoke(
        app, ["lineage", "dataset:bigquery:mock-project.test.upload", "-f", "dot", "--db", db]
    )
    assert dot.stdout.startswith("digraph lineage {") and "->" in dot.stdout
    mermaid = runner.invoke(
        app, ["lineage", "dataset:bigquery:mock-project.test.upload", "-f", "mermaid", "--db", db]
    )
    assert mermaid.stdout.startswith("flowchart LR") and "-->" in mermaid.stdout
    cols = runner.invoke(
        app,
        [
            "lineage",
            "dataset:file:/tmp/cll_test/tbl1",
            "--columns",
            "--upstream",
            "-f",
            "json",
            "--db",
            db,
        ],
    )
    fields = {n["id"] for n in json.loads(cols.stdout)["graph"]}
    assert "datasetField:file:/tmp/cll_test/cll_source2:c" in fields


def test_lists(db):
    out = runner.invoke(app, ["datasets", "-f", "json", "--db", db])
    assert len(json.loads(out.stdout)) == 22  # distinct datasets in ../shared/openlineage-events
    jobs = runner.invoke(app, ["jobs", "--namespace", "airflow", "--db", db])
    assert jobs.exit_code == 0 and "BQ.upload" in jobs.output
    runs = runner.invoke(app, ["runs", "airflow:BQ.upload", "-f", "json", "--db", db])
    assert json.loads(runs.stdout)[0]["state"] == "COMPLETED"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lineage", "dataset:nowhere:nothing"], "not found"),
        (["lineage", "garbage"], "no dataset or column matches 'garbage'"),
        (["lineage", "dataset:onlyns"], "has no ':' between namespace and name"),
        (["runs", "x:y"], "job x:y not found"),
        (["ingest", "/definitely/missing.json"], "no such file"),
        (["datasets", "--namespace", "nope"], "namespace 'nope' not found"),
    ],
)
def test_errors_without_traceback(db, args, message):
    result = runner.invoke(app, [*args, "--db", db])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("variable", "unit"),
    [("HEADWATER_COLUMN_INDEX_EDGES", "edges"), ("HEADWATER_NODE_CACHE", "nodes")],
)
@pytest.mark.parametrize("value", ["abc", "-3", "1.5"])
def test_a_bad_store_bound_is_an_error_without_traceback(db, monkeypatch, variable, unit, value):
    monkeypatch.setenv(variable, value)
    result = runner.invoke(app, ["datasets", "--db", db])
    assert result.exit_code == 1
    assert f"{variable} must be a number of {unit}, 0 or more" in result.output
    assert repr(value) in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("variable", ["HEADWATER_COLUMN_INDEX_EDGES", "HEADWATER_NODE_CACHE"])
def test_a_store_bound_accepts_zero_and_underscores(db, monkeypatch, variable):
    for value in ("0", "1_000"):
        monkeypatch.setenv(variable, value)
        out = runner.invoke(app, ["datasets", "-f", "json", "--db", db])
        assert out.exit_code == 0 and len(json.loads(out.stdout)) == 22


def test_db_upgrade_and_real_process(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'p.db'}"
    proc = subprocess.run(
        [sys.executable, "-m", "headwater", "db", "upgrade", "--db", url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and f"schema at revision {head_revision()}" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "headwater", "lineage", "job:a:b", "--db", url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (
        proc.returncode == 1
        and proc.stderr.startswith("error: node job:a:b not found")
        and "Traceback" not in proc.stderr
    )


def test_reads_over_http(server_factory_url):
    url, db_events = server_factory_url
    out = runner.invoke(app, ["jobs", "-f", "json", "--url", url])
    assert out.exit_code == 0 and len(json.loads(out.stdout)) == db_events
    bad = runner.invoke(app, ["jobs", "--url", "http://127.0.0.1:9"])
    assert bad.exit_code == 1 and "cannot reach" in bad.output


def test_db_project_applies_the_backlog(tmp_path: Path):
    """Events appended but not yet projected: `headwater db project` applies them and says so."""
    from headwater.store import open_store

    url = f"sqlite:///{tmp_path / 'backlog.db'}"
    store = open_store(url)
    for i in range(3):
        store.ingest(run_event(job=f"j{i}", outputs=[dataset(f"t{i}")], at=i))
    assert store.pending() == 3
    out = runner.invoke(app, ["db", "project", "--db", url])
    assert out.exit_code == 0 and "projected 3 events; 0 pending" in out.stdout
    assert store.pending() == 0
    again = runner.invoke(app, ["db", "project", "--db", url])
    assert "projected 0 events; 0 pending" in again.stdout
    store.close()


def test_db_backup_copies_both_files_and_refuses_what_it_cannot(tmp_path: Path):
    from headwater.store import open_store

    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = open_store(url)
    for i in range(3):
        store.ingest(run_event(job=f"j{i}", outputs=[dataset(f"t{i}")], at=i))
    store.close()
    dest = tmp_path / "copy.db"
    out = runner.invoke(app, ["db", "backup", str(dest), "--db", url])
    assert out.exit_code == 0, out.output
    assert "backed up 3 events" in out.stdout and "copy.events.db" in out.stdout
    again = runner.invoke(app, ["db", "backup", str(dest), "--db", url])
    assert again.exit_code == 1 and "exists: a backup writes new files" in again.output
    assert "Traceback" not in again.output
    missing = runner.invoke(app, ["db", "backup", str(dest), "--db", "sqlite:///nowhere.db"])
    assert missing.exit_code == 1 and "no SQLite store at" in missing.output
    assert not Path("nowhere.db").exists()
    pg = runner.invoke(app, ["db", "backup", str(dest), "--db", "postgresql://u@127.0.0.1:1/x"])
    assert pg.exit_code == 1 and "pg_dump" in pg.output  # refused before connecting
