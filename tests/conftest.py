"""Fixtures shared by every test package.

Real components only: ``postgres_url`` creates a fresh database on the real
server at 127.0.0.1:5432 for the test session and drops it afterwards;
``shared_dir`` is the ``../shared`` reference folder (required in CI).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource

from databases import PG_ADMIN_URL, postgres_database
from servers import serving

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = PROJECT_ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def _no_openlineage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's OpenLineage/Headwater settings out of unit tests."""
    for name in list(os.environ):
        if name.startswith(("OPENLINEAGE_", "HEADWATER_")) and name != "HEADWATER_TEST_PG":
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``../shared`` folder; fails in CI (CI=true) when missing, skips elsewhere."""
    if not SHARED_DIR.is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SHARED_DIR} is missing; CI must provide ../shared")
        pytest.skip(f"{SHARED_DIR} not available")
    return SHARED_DIR


def _pg_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, as a ``postgresql://`` URL."""
    if not _pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    with postgres_database("headwater_test") as url:
        yield url


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database of its own for one test (for migration and isolation tests)."""
    with postgres_database() as url:
        yield url


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    """Start ``headwater serve`` as a real process; returns its base URL (stopped after the test)."""
    with ExitStack() as stack:
        count = 0

        def start(
            db_url: str | None = None, env: dict[str, str] | None = None, workers: int = 1
        ) -> str:
            nonlocal count
            db_url = db_url or f"sqlite:///{tmp_path / f'server{count}.db'}"
            count += 1
            return stack.enter_context(serving(db_url, env, workers))

        yield start


@pytest.fixture(scope="session")
def openlineage_validator(shared_dir: Path):
    """Validate an event and each of its facets against the official JSON Schemas."""
    spec = shared_dir / "openlineage-spec"
    core = json.loads((spec / "OpenLineage.json").read_text())
    facet_files = {p.stem: json.loads(p.read_text()) for p in (spec / "facets").glob("*.json")}
    registry = Registry().with_resources(
        [(core["$id"], Resource.from_contents(core))]
        + [(f["$id"], Resource.from_contents(f)) for f in facet_files.values()]
    )
    by_key: dict[str, dict] = {}
    for schema in facet_files.values():
        for key in schema.get("properties", {}):
            by_key[key] = schema

    def validate(event: dict) -> None:
        kind = (
            "RunEvent" if "run" in event else "DatasetEvent" if "dataset" in event else "JobEvent"
        )
        jsonschema.Draft202012Validator(
            {"$ref": f"{core['$id']}#/$defs/{kind}"}, registry=registry
        ).validate(event)
        holders = [event.get("run", {}).get("facets", {}), event.get("job", {}).get("facets", {})]
        for ds in (
            event.get("inputs", [])
            + event.get("outputs", [])
            + ([event["dataset"]] if "dataset" in event else [])
        ):
            holders += [ds.get("facets", {}), ds.get("inputFacets", {}), ds.get("outputFacets", {})]
        for facets in holders:
            for key, value in facets.items():
                schema = by_key.get(key)
                if schema is not None:
                    jsonschema.Draft202012Validator(schema, registry=registry).validate(
                        {key: value}
                    )
                else:
                    # custom facets: Headwater's audit facet, the Spark agent's properties facet
                    assert key in ("headwater_audit", "spark_properties"), f"unknown facet {key}"

    return validate


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory):
    """One real PySpark session (local mode) for the test session; its warehouse in a temp dir.

    Skips without PySpark or Java, except in CI (CI=true), where it fails.
    """
    import shutil

    try:
        import pyspark  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("pyspark is not installed; make install installs the spark extra")
        pytest.skip("pyspark not installed")
    if shutil.which("java") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("java is not installed; .ci/run installs a JDK")
        pytest.skip("java not installed")
    from headwater.pipelines.spark_runner import spark_session

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = spark_session(
        "local[2]",
        "headwater-tests",
        **{
            "spark.sql.warehouse.dir": str(warehouse),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={warehouse}",
        },
    )
    yield session
    session.stop()
