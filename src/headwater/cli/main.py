"""The ``headwater`` command.

Every topic module under :mod:`headwater.cli` exposes ``register(app)`` that adds
its commands (or a sub-app) to the root app; this module only assembles them,
so adding a command never means editing another topic's code.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="headwater",
    help="OpenLineage-native data lineage: capture, store and explore lineage.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Topic modules, in help order. Each defines ``register(app: typer.Typer) -> None``.
COMMAND_MODULES: tuple[str, ...] = (
    "headwater.cli.server",
    "headwater.cli.events",
    "headwater.cli.read",
    "headwater.cli.sql",
    "headwater.cli.pipelines",
    "headwater.cli.iceberg",
    "headwater.cli.analysis",
)


def _register_all() -> None:
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(app)


@app.callback()
def _root() -> None:
    """OpenLineage-native data lineage: capture, store and explore lineage."""


_register_all()


def main() -> None:
    """Entry point for ``python -m headwater``."""
    app()
