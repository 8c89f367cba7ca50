"""Real servers for the end-to-end tests: uvicorn in a thread, or `clientcore serve` in a
subprocess, each on a free port; and an ASGI middleware that loses the first batch's answer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ADMIN_TOKEN = "test-admin-token"

Scope = dict[str, Any]
Message = dict[str, Any]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FailFirstBatch:
    """Lets the app commit the first /v1/batch request, then answers the client 503.

    The client believes the batch failed and retries it: what a dropped connection or a
    proxy timeout after the commit looks like from the SDK's side.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.batch_requests = 0
        self.swallowed: list[tuple[int, bytes]] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/batch":
            await self.app(scope, receive, send)
            return
        with self._lock:
            self.batch_requests += 1
            first = self.batch_requests == 1
        if not first:
            await self.app(scope, receive, send)
            return
        status = 0
        body = b""

        async def swallow(message: Message) -> None:
            nonlocal status, body
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body += message.get("body", b"")

        await self.app(scope, receive, swallow)
        self.swallowed.append((status, body))
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send(
            {
                "type": "http.response.body",
                "body": b'{"error": {"code": "unavailable", "message": "try again"}}',
            }
        )


class ThreadServer:
    """uvicorn serving `app` on 127.0.0.1:<free port> in a background thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="test-uvicorn", daemon=True)

    def __enter__(self) -> ThreadServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)


@dataclass
class Served:
    """A `clientcore serve` subprocess."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    log: Path

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"clientcore serve exited: {log.read_text()[-2000:]}")
            try:
                if client.get(url + "/health").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"clientcore serve did not answer: {log.read_text()[-2000:]}")
            time.sleep(0.05)


@contextmanager
def clientcore_serve(
    db: Path, token: str = ADMIN_TOKEN, env_extra: dict[str, str] | None = None
) -> Iterator[Served]:
    """`clientcore serve --db DB --port PORT` in a subprocess, stopped (or killed) at the end."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = db.parent / f"{db.name}.serve.log"
    env = {**os.environ, "CLIENTCORE_ADMIN_TOKEN": token, **(env_extra or {})}
    env.pop("CLIENTCORE_DB", None)
    command = [sys.executable, "-m", "clientcore.cli", "serve", "--db", str(db)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    try:
        _wait_healthy(url, process, log, timeout=60)
        yield Served(url, token, process, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait()
