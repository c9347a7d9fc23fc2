"""Shared CLI plumbing: options, error reporting without tracebacks, JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from headwater.model.events import EventParseError, EventValidationError
from headwater.model.nodes import InvalidNodeId
from headwater.store.base import LineageStore, StoreError

if TYPE_CHECKING:
    from rich.progress import Progress

console = Console(emoji=False)
err_console = Console(stderr=True, emoji=False)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", envvar="HEADWATER_DB_URL", help="Store URL (default sqlite:///./headwater.db)."
    ),
]
UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="HEADWATER_URL",
        help="Read from a Headwater/Marquez server instead of the local store.",
    ),
]
ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", envvar="HEADWATER_API_KEY", help="API key for --url.")
]

F = TypeVar("F", bound=Callable[..., Any])


def project_backlog(store: LineageStore, progress: Progress) -> int:
    """Project what the store's log holds past its watermark, advancing a ``projecting`` bar.

    Returns:
        How many events were projected.
    """
    task = progress.add_task("projecting", total=store.pending())
    done = 0
    while step := store.catch_up(limit=500):
        done += step
        progress.advance(task, step)
    return done


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def friendly_errors(fn: F) -> F:
    """Turn expected errors into one-line messages and a nonzero exit (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import OperationalError

        from headwater.client import ClientError

        try:
            return fn(*args, **kwargs)
        except (
            StoreError,
            InvalidNodeId,
            ClientError,
            EventParseError,
            EventValidationError,
            OSError,
        ) as exc:
            raise fail(str(exc)) from None
        except OperationalError as exc:
            raise fail(f"cannot open the store: {exc.orig}") from None

    return wrapper  # type: ignore[return-value]


def print_json(data: Any) -> None:
    """Machine output: JSON on stdout, nothing else."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
