"""``headwater serve``, ``headwater db upgrade`` and ``headwater db project``."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Annotated

import typer

from headwater.cli.common import DbOption, console, fail, friendly_errors
from headwater.store import open_store, resolve_url

db_app = typer.Typer(help="Manage the lineage store.", no_args_is_help=True)


@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    db: DbOption = None,
    workers: Annotated[
        int, typer.Option(help="Server worker processes (use PostgreSQL for more than 1).")
    ] = 1,
    catalog_dir: Annotated[
        Path | None,
        typer.Option(
            "--catalog-dir",
            help="Iceberg SQL catalog directory for row-level traces (/api/v1/headwater/trace).",
        ),
    ] = None,
) -> None:
    """Serve the OpenLineage ingest API, the Marquez-compatible read API and the web UI."""
    import signal
    import subprocess
    import sys

    import uvicorn

    url = resolve_url(db)
    open_store(url).close()  # migrate once, before workers start
    os.environ["HEADWATER_DB_URL"] = url
    os.environ["HEADWATER_PROJECTOR"] = "external"  # the process started below projects
    if catalog_dir is not None:
        if not (catalog_dir / "catalog.db").exists():
            raise fail(
                f"no Iceberg catalog at {catalog_dir} (expected {catalog_dir / 'catalog.db'})"
            )
        os.environ["HEADWATER_CATALOG_DIR"] = str(catalog_dir.resolve())
    console.print(f"Headwater on http://{host}:{port}  store: {url}")
    # One projector for all workers, in a process of its own (another core, not the GIL).
    # Below the workers' priority: answering producers comes first, and reads never wait for it
    # (they project what is left themselves).
    projector = subprocess.Popen(
        [sys.executable, "-m", "headwater", "db", "project", "--follow", "--quiet", "--db", url],
        env={**os.environ, _PARENT_PID: str(os.getpid())},
        preexec_fn=_projector_child,
    )
    # uvicorn ends on SIGTERM by raising it again once it has shut down, with the handler found
    # at its start: this one unwinds to the `finally` below instead of killing the process.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        uvicorn.run(
            "headwater.api.server:app",
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
        )
    finally:
        projector.terminate()
        try:
            projector.wait(timeout=10)
        except subprocess.TimeoutExpired:
            projector.kill()


@db_app.command("upgrade")
@friendly_errors
def upgrade(db: DbOption = None) -> None:
    """Create or migrate the store's schema (never drops data)."""
    from headwater.store.migrate import current_revision
    from headwater.store.sql import SqlStore

    url = resolve_url(db)
    store = SqlStore(url)
    before = current_revision(store.engine)
    store.upgrade()
    after = current_revision(store.engine)
    console.print(
        f"{url}: schema at revision {after}"
        + ("" if before == after else f" (was {before or 'empty'})")
    )


@db_app.command("project")
@friendly_errors
def project(
    db: DbOption = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep projecting new events until interrupted.")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.01, help="With --follow: seconds between polls.")
    ] = 0.25,
    quiet: Annotated[bool, typer.Option("--quiet", help="Print nothing.")] = False,
) -> None:
    """Project appended events into the lineage tables (reads do this too, on demand).

    Without --follow: project the backlog with a progress bar, then exit. With --follow: keep
    the projection close behind the log (what `headwater serve` runs beside its workers).
    """
    import signal

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from headwater.cli.common import err_console, project_backlog
    from headwater.store.projector import follow as follow_log

    store = open_store(resolve_url(db))
    try:
        if follow:
            stop = threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            threading.Thread(target=_stop_with_parent, args=(stop,), daemon=True).start()
            done = follow_log(store, stop, interval=interval)
        else:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=err_console,
                transient=True,
                disable=quiet,
            ) as progress:
                done = project_backlog(store, progress)
        left = store.pending()
    finally:
        store.close()
    if not quiet:
        console.print(f"projected {done} events; {left} pending")


@db_app.command("backup")
@friendly_errors
def backup(
    dest: Annotated[
        Path, typer.Argument(help="The copy's file (its event log is written beside it).")
    ],
    db: DbOption = None,
) -> None:
    """Copy a SQLite store, both its files, consistently, while it is in use."""
    from sqlalchemy.engine import make_url

    from headwater.store.backup import backup as backup_store
    from headwater.store.sql import SqlStore

    url = resolve_url(db)
    if not url.startswith("sqlite"):  # before opening: that would migrate the database
        raise fail("a PostgreSQL store is one database: back it up with pg_dump")
    if not Path(make_url(url).database or "").is_file():  # else opening would create one
        raise fail(f"no SQLite store at {url}")
    store = open_store(url)
    try:
        assert isinstance(store, SqlStore)
        with console.status(f"backing up to {dest}"):
            done = backup_store(store, dest)
    finally:
        store.close()
    sizes = ", ".join(
        f"{path} ({path.stat().st_size / 1e6:,.1f} MB)" for path in (done.store_file, done.log_file)
    )
    console.print(f"backed up {done.events:,} events: {sizes}", highlight=False, soft_wrap=True)


_PARENT_PID = "HEADWATER_PARENT_PID"  # set by `serve` for its projector: the pid to outlive not


def _projector_child() -> None:
    """In the projector process before it runs: below the workers' priority and, on Linux,
    sent SIGTERM by the kernel when the server dies (even by SIGKILL)."""
    os.nice(10)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 15)  # PR_SET_PDEATHSIG, SIGTERM
    except (OSError, AttributeError):  # not Linux: the parent watch below still stops it
        pass


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _stop_with_parent(stop: threading.Event) -> None:
    """Set ``stop`` when the process that started this one is gone (even if it was killed).

    The parent is the pid ``serve`` passed (``HEADWATER_PARENT_PID``), so a server that ended
    while this process was still starting is noticed too; else the parent found at start.
    """
    parent = int(os.environ.get(_PARENT_PID) or os.getppid())
    while os.getppid() == parent and not stop.wait(1.0):
        pass
    stop.set()


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``db`` to the root app."""
    app.command("serve")(serve)
    app.add_typer(db_app, name="db")
