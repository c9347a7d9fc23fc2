"""Fixtures for the web UI tests: a real server over the reference pipeline's lineage, real Chromium.

The store is filled by running the real reference pipeline (DuckDB + Iceberg) and a
pipeline whose step SQL is broken (a FAIL event with the error). ``headwater serve``
runs in a subprocess; Playwright drives Debian's ``/usr/bin/chromium`` (never a
downloaded browser). Without Chromium the tests skip, except in CI (``CI=true``)
where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from headwater.capture.iceberg import open_catalog
from headwater.capture.transport import make_client
from headwater.model import JobId
from headwater.pipelines import REFERENCE, Runner, StepFailed, load_pipeline
from headwater.store import open_store
from servers import serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SMALL = {"num_customers": 30, "num_orders": 200, "num_products": 15, "seed": 7}
BROKEN = {
    "name": "broken_nightly",
    "namespace": "headwater",
    "parameters": {"database_name": "governance_demo"},
    "steps": [
        {
            "job": "broken_step",
            "target": "broken_table",
            "sql": "SELECT no_such_column FROM customer_orders_staging",
        }
    ],
}


@dataclass
class Lineage:
    """What the server holds: base URL, where tables live, the failed run's id."""

    url: str
    warehouse: str
    failed_run: str

    def dataset(self, table: str) -> str:
        """The dataset node id of a reference table (its namespace is ``file``)."""
        return f"dataset:file:{self.warehouse}/{table}"


def _fill(directory: Path) -> tuple[str, str]:
    store = open_store(f"sqlite:///{directory / 'headwater.db'}")
    catalog = open_catalog(directory / "catalog")
    try:
        Runner(catalog, make_client(store=store)).run(load_pipeline(REFERENCE, SMALL))
        with pytest.raises(StepFailed):
            Runner(catalog, make_client(store=store)).run(load_pipeline(BROKEN))
        failed = store.get_job(JobId("headwater", "broken_step"))["latestRun"]
        assert failed["state"] == "FAILED"
    finally:
        store.close()
    return str(directory / "catalog" / "warehouse" / "governance_demo"), failed["id"]


def _serve(db: Path, env: dict[str, str] | None = None) -> Any:
    """Run ``headwater serve`` over ``db`` (without this shell's Headwater/OpenLineage settings)."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("HEADWATER_", "OPENLINEAGE_"))
    }
    return serving(f"sqlite:///{db}", env, base_env=clean)


@pytest.fixture(scope="session")
def serve() -> Any:
    """``with serve(db_path, env) as url:`` runs ``headwater serve`` for the block."""
    return _serve


@pytest.fixture(scope="session")
def lineage_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """A SQLite store with the reference pipeline and a failed run: (path, warehouse, run id)."""
    directory = tmp_path_factory.mktemp("web")
    warehouse, failed_run = _fill(directory)
    return directory / "headwater.db", warehouse, failed_run


@pytest.fixture(scope="session")
def lineage_server(lineage_db: tuple[Path, str, str]) -> Iterator[Lineage]:
    """``headwater serve`` over the reference pipeline's lineage and a failed run."""
    db, warehouse, failed_run = lineage_db
    with _serve(db) as url:
        yield Lineage(url, warehouse, failed_run)


@pytest.fixture
def keyed_server(lineage_db: tuple[Path, str, str]) -> Iterator[str]:
    """The same store served with API keys (``viewer-key`` is read-only)."""
    with _serve(lineage_db[0], {"HEADWATER_API_KEYS": "viewer-key:ro,writer-key:rw"}) as url:
        yield url


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must provide it (.ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright."""
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page (1400x900); fails the test on any uncaught JavaScript error."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def screenshot() -> Any:
    """Save a screenshot under $UI_SCREENSHOTS (scripts/screenshots.py sets it); else no-op."""
    target = os.environ.get("UI_SCREENSHOTS")

    def save(page: Any, name: str) -> None:
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(target) / f"{name}.png"))

    return save
