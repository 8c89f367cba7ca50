"""`clientcore profile IDENTIFIER`: the single customer view from the command line."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import typer

from clientcore.clisupport import (
    DbOption,
    JsonOption,
    RemoteServer,
    console,
    fail,
    print_json,
    store_or_server,
)
from clientcore.profiles.render import render
from clientcore.profiles.view import view_by_identifier

MAX_LIMIT = 500


def profile_command(
    identifier: str = typer.Argument(
        ...,
        metavar="IDENTIFIER",
        help="Any identifier: email, phone, user id, anonymous id, loyalty card…",
    ),
    as_json: bool = JsonOption,
    limit: int = typer.Option(50, "--limit", min=1, max=MAX_LIMIT, help="Timeline events"),
    before: str | None = typer.Option(
        None, "--before", help="Only events strictly older than this ISO time (next page)"
    ),
    db: str | None = DbOption,
) -> None:
    """Show one customer: identifiers, traits, summary and the cross-channel timeline."""
    cutoff = _parse_before(before)
    with store_or_server(db) as target:
        if isinstance(target, RemoteServer):
            params: dict[str, Any] = {"limit": limit}
            if before is not None:
                params["before"] = before
            doc = target.call(
                "GET", f"/v1/admin/profiles/{quote(identifier, safe='')}", params=params
            )
        else:
            view = view_by_identifier(target, identifier, limit, cutoff)
            if view is None:
                fail(f"no profile has the identifier {identifier!r}")
            doc = view.to_dict()
    if as_json:
        print_json(doc)
    else:
        render(console, doc)


def _parse_before(before: str | None) -> datetime | None:
    if before is None:
        return None
    try:
        return datetime.fromisoformat(before)
    except ValueError:
        fail(f"--before: not an ISO-8601 time: {before!r}")
