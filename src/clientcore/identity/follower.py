"""Keeps profiles current inside the server: sync after every commit, off the request path.

The writer signals after each group commit; this thread wakes, stitches what arrived, and
sleeps again — at most every `min_interval` seconds, so under load it stitches many commits at
once. It works on its own connection: its transactions run beside the writer's rather than
queueing behind them, and ingest never waits for stitching.
"""

from __future__ import annotations

import logging
import threading
import time

from clientcore.identity.spec import IdentitySpec
from clientcore.identity.sync import IdentityService
from clientcore.store import Store

log = logging.getLogger("clientcore.identity")


class IdentityFollower:
    def __init__(self, store: Store, spec: IdentitySpec, min_interval: float = 0.5) -> None:
        self.service = IdentityService(store.reader(), spec)
        self.min_interval = min_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self.failures = 0
        self._thread = threading.Thread(target=self._run, name="clientcore-identity", daemon=True)
        self._thread.start()
        self.notify()

    def notify(self) -> None:
        self._idle.clear()
        self._wake.set()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until everything committed so far is stitched (tests, admin routes)."""
        self.notify()
        return self._idle.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self.service.store.close()

    def reload(self) -> None:
        """After a rebuild or an unmerge, start again from what the store holds."""
        self.service = IdentityService(self.service.store, self.service.spec)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            started = time.monotonic()
            try:
                self.service.sync()
            except Exception:  # logged and retried on the next commit; events are safe
                self.failures += 1
                log.exception("identity sync failed; it will retry after the next commit")
                self.reload()
            if not self._wake.is_set():
                self._idle.set()
            pause = self.min_interval - (time.monotonic() - started)
            if pause > 0:
                self._stop.wait(pause)
