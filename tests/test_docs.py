"""Docs that cannot go stale: every CLI command and every API route appears in the README."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main

from clientcore.api.app import create_app
from clientcore.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _commands(command: Any, prefix: list[str]) -> list[str]:
    subcommands = getattr(command, "commands", None)
    if not subcommands:
        return [" ".join(prefix)]
    found: list[str] = []
    for name, sub in subcommands.items():
        found.extend(_commands(sub, [*prefix, name]))
    return found


COMMANDS = _commands(typer.main.get_command(app), ["clientcore"])
ROUTES = [
    f"{method.upper()} {path}"
    for path, operations in create_app(":memory:").openapi()["paths"].items()
    for method in operations
]


def test_there_is_something_to_check() -> None:
    assert len(COMMANDS) > 10
    assert "POST /v1/batch" in ROUTES


@pytest.mark.parametrize("command", COMMANDS)
def test_every_cli_command_is_documented(command: str) -> None:
    assert f"`{command}" in README, f"README.md does not document `{command}`"


@pytest.mark.parametrize("route", ROUTES)
def test_every_api_route_is_documented(route: str) -> None:
    assert f"`{route}`" in README, f"README.md does not document `{route}`"
