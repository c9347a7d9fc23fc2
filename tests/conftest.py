"""Fixtures shared by every test package.

Real components only: ``postgres_url`` creates a fresh database on the real
server at 127.0.0.1:5432 for the test session and drops it afterwards;
``shared_dir`` is the ``../shared`` reference folder (required in CI).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = PROJECT_ROOT.parent / "shared"
PG_ADMIN_URL = os.environ.get("HEADWATER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


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
    import psycopg

    if not _pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
    name = f"headwater_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # name is generated above, never user input
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL database of its own for one test (for migration and isolation tests)."""
    import psycopg

    name = f"headwater_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server_factory(tmp_path: Path):
    """Start ``headwater serve`` as a real process; returns its base URL."""
    procs: list[subprocess.Popen] = []

    def start(
        db_url: str | None = None, env: dict[str, str] | None = None, workers: int = 1
    ) -> str:
        port = free_port()
        db_url = db_url or f"sqlite:///{tmp_path / f'server{len(procs)}.db'}"
        cmd = [
            sys.executable,
            "-m",
            "headwater",
            "serve",
            "--port",
            str(port),
            "--db",
            db_url,
            "--workers",
            str(workers),
        ]
        proc = subprocess.Popen(
            cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(proc.stdout.read().decode() if proc.stdout else "server died")
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    return url
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 30 s")

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
