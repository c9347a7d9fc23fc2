"""``headwater serve`` as a real process for tests: started, waited for, stopped."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    db_url: str,
    env: dict[str, str] | None = None,
    workers: int = 1,
    base_env: dict[str, str] | None = None,
) -> Iterator[str]:
    """Run ``headwater serve`` over ``db_url`` until the block ends; yields its base URL.

    ``base_env`` is the environment the server starts from (default: this process's), ``env``
    what is added to it.
    """
    port = free_port()
    cmd = [sys.executable, "-m", "headwater", "serve", "--port", str(port), "--db", db_url]
    cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(
        cmd,
        env={**(os.environ if base_env is None else base_env), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"server died: {out}")
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("server did not start in 30 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
