"""Docs that drift from code fail the build: every command, option and endpoint is documented."""

from pathlib import Path

import click
import pytest
import typer.main

from headwater.api import create_app
from headwater.cli.main import app
from headwater.store import open_store

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _commands(group: click.Group, prefix: str = "headwater") -> list[tuple[str, click.Command]]:
    found = []
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            found += _commands(cmd, path)
        else:
            found.append((path, cmd))
    return found


COMMANDS = _commands(typer.main.get_command(app))  # type: ignore[arg-type]
ALL_DOCS = (
    "\n".join(p.read_text() for p in DOCS.glob("*.md")) + (DOCS.parent / "README.md").read_text()
)


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_and_option_is_documented(path: str, command: click.Command) -> None:
    assert f"`{path}" in ALL_DOCS, f"{path} is not documented"
    for param in command.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt not in ("--help",):
                assert opt in ALL_DOCS, f"{path} {opt} is not documented"


def test_every_endpoint_is_in_api_md(tmp_path: Path) -> None:
    api = (DOCS / "api.md").read_text()
    application = create_app(open_store(f"sqlite:///{tmp_path / 'd.db'}"))
    for route in application.routes:
        path = getattr(route, "path", "")
        if path.startswith("/api/") and getattr(route, "include_in_schema", True):
            assert f"`{path}`" in api or f"`{path}" in api, f"{path} missing from docs/api.md"
