"""What every command shares: one-line errors with exit code 2, JSON output, the store or the
running server that owns it, and progress bars."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from clientcore.store import Store, StoreError, StoreLockedError, database_url, open_store

console = Console()
err_console = Console(stderr=True)
T = TypeVar("T")

DbOption = typer.Option(None, "--db", help="Database file or postgresql:// URL [env CLIENTCORE_DB]")
JsonOption = typer.Option(False, "--json", help="Print one JSON document on stdout")


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit (2 for bad input, per our CLI contract)."""
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(document: Any) -> None:
    sys.stdout.write(
        orjson.dumps(
            document, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
        ).decode()
        + "\n"
    )


def server_file(db_url: str) -> Path:
    """Where a running `clientcore serve` advertises itself for an embedded database file."""
    return Path(db_url + ".server.json")


def running_server(db_url: str) -> dict[str, Any] | None:
    """The advertisement of a live server on this database, or None. A file left behind by a
    server that was killed (its pid is gone) is stale: it is removed, not trusted."""
    path = server_file(db_url)
    if not path.exists():
        return None
    try:
        info: dict[str, Any] = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (ValueError, KeyError, TypeError, ProcessLookupError):
        path.unlink(missing_ok=True)
        return None
    except PermissionError:  # alive, but another user's process
        return info
    return info


def write_server_file(db_url: str, url: str, token: str) -> Path | None:
    if "://" in db_url or db_url == ":memory:":
        return None
    path = server_file(db_url)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url, "admin_token": token, "pid": os.getpid()}, handle)
    return path


class RemoteServer:
    """The running server that owns the database file, reached through its admin routes."""

    def __init__(self, url: str, token: str) -> None:
        self._client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=3600
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            fail(f"the database is held by a server that does not answer ({error})")
        if response.status_code >= 400:
            try:
                detail = response.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                detail = response.text
            fail(detail)
        return response.json()

    def close(self) -> None:
        self._client.close()


@contextmanager
def store_or_server(db: str | None) -> Iterator[Store | RemoteServer]:
    """The store itself, or — when `clientcore serve` holds the file — that server."""
    url = database_url(db)
    try:
        store = open_store(url)
    except StoreLockedError as error:
        info = running_server(url)
        if info is None:
            fail(f"{error}; stop the other process or point --db elsewhere")
        server = RemoteServer(info["url"], info["admin_token"])
        try:
            yield server
        finally:
            server.close()
        return
    except StoreError as error:
        fail(str(error))
    try:
        yield store
    finally:
        store.close()


@contextmanager
def local_store(db: str | None) -> Iterator[Store]:
    """The store, for commands that must own it (they say what to do when a server does)."""
    url = database_url(db)
    try:
        store = open_store(url)
    except StoreLockedError as error:
        fail(f"{error}; stop `clientcore serve` first, or use its HTTP API")
    except StoreError as error:
        fail(str(error))
    try:
        yield store
    finally:
        store.close()


def progress_bar(description: str, total: int | None = None) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if total is not None else TextColumn(""),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )


def with_progress(
    description: str, quiet: bool, work: Callable[[Callable[[int, int], None]], T]
) -> T:
    """Run `work(progress)` under a Rich bar on stderr (silent when quiet or not a terminal)."""
    if quiet or not err_console.is_terminal:
        return work(lambda _done, _total: None)
    with progress_bar(description) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        return work(update)
