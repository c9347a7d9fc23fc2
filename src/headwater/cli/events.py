"""``headwater ingest`` and ``headwater export``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from headwater.cli.common import (
    DbOption,
    console,
    err_console,
    fail,
    friendly_errors,
    project_backlog,
)
from headwater.model.events import EventParseError
from headwater.store import open_store


def _files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p for p in path.rglob("*") if p.suffix in (".json", ".ndjson", ".jsonl")
            )
        elif path.exists():
            files.append(path)
        else:
            raise fail(f"{path}: no such file or directory")
    return files


def read_events(path: Path) -> Iterator[tuple[str, bytes | EventParseError]]:
    """Yield ``(where, event bytes)`` from a JSON file (one event or an array) or NDJSON."""
    data = path.read_bytes()
    stripped = data.lstrip()
    if stripped.startswith(b"["):
        try:
            items = json.loads(data)
        except json.JSONDecodeError as exc:
            yield (
                f"{path}",
                EventParseError(
                    f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
                ),
            )
            return
        for i, item in enumerate(items):
            yield (
                f"{path}[{i}]",
                json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode(),
            )
        return
    try:
        json.loads(data)
        yield str(path), data
        return
    except json.JSONDecodeError:
        pass
    for lineno, line in enumerate(data.splitlines(), 1):
        if line.strip():
            yield f"{path}:{lineno}", line


@friendly_errors
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="JSON / NDJSON files or directories of them.")
    ],
    db: DbOption = None,
) -> None:
    """Load OpenLineage events from files into the store (idempotent)."""
    store = open_store(db)
    items: list[tuple[str, bytes]] = []
    rejected: list[str] = []
    for where, payload in (item for f in _files(paths) for item in read_events(f)):
        if isinstance(payload, EventParseError):
            rejected.append(f"{where}: {payload}")
        else:
            items.append((where, payload))
    stored = duplicate = 0
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("ingesting", total=len(items))
        for start in range(0, len(items), 500):  # one transaction per 500 events
            chunk = items[start : start + 500]
            for result in store.ingest_many(payload for _, payload in chunk):
                where = chunk[result.index][0]
                if result.error is not None:
                    rejected.append(f"{where}: {result.error}")
                elif result.result is not None:
                    duplicate += result.result.duplicate
                    stored += not result.result.duplicate
            progress.advance(task, len(chunk))
        project_backlog(store, progress)  # now, so the next read has nothing left to do
    console.print(f"stored {stored}, duplicate {duplicate}, rejected {len(rejected)}")
    for line in rejected:
        err_console.print(f"  [red]rejected[/] {line}", highlight=False, soft_wrap=True)
    if rejected:
        raise typer.Exit(1)


@friendly_errors
def export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default stdout).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Write every stored event as NDJSON, byte-for-byte as received, in ingestion order."""
    store = open_store(db)
    sink = output.open("wb") if output else sys.stdout.buffer
    count = 0
    try:
        for raw in store.export_events():
            # NDJSON is one event a line: line breaks in a pretty-printed event are insignificant
            # whitespace (JSON strings cannot hold raw ones), so they become spaces.
            sink.write(raw.replace(b"\r\n", b"  ").replace(b"\n", b" ") if b"\n" in raw else raw)
            sink.write(b"\n")
            count += 1
    except BrokenPipeError:  # `headwater export | head`
        return
    finally:
        if output:
            sink.close()
    if output:
        console.print(f"exported {count} events to {output}")


def register(app: typer.Typer) -> None:
    """Add ``ingest`` and ``export``."""
    app.command("ingest")(ingest)
    app.command("export")(export)
