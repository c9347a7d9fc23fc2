import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


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
