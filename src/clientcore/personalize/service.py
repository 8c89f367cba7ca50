"""The recommender inside a running server (or a CLI command): one model in memory, swapped
whole, and — in a server — the log's tail in memory, so a request reads no store.

Requests read `self._model` once and use that object to the end, so a reload or a training
run replaces the reference (one atomic assignment) without stopping or failing a request in
flight; the old version is freed when its last request finishes. A server also follows the
models directory: when another process (a `recommend train` against PostgreSQL, a scheduler)
points `CURRENT` at a new version, the next request after the check interval starts loading it
in the background.

Given the identity graph the server keeps (and the collector's count of committed events), the
service follows the log (`tail.py`): a request whose moment the tail covers is answered from
memory, after a catch-up when the collector committed since the last one (so an event just
collected counts at once); a background thread catches up every second for writers elsewhere.
Anything else (a replay older than the tail, a CLI command) reads the store.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threadpoolctl import threadpool_limits

from clientcore.identity.spec import load_spec
from clientcore.personalize.data import CHANNELS
from clientcore.personalize.errors import InvalidRequestError, NoModelError
from clientcore.personalize.live import (
    IDENTITY_WATERMARK,
    LiveContext,
    StoreSource,
    context_of,
)
from clientcore.personalize.model import MAX_K, Recommender, current_version
from clientcore.personalize.rules import Rules
from clientcore.personalize.tail import LogTail
from clientcore.store import Store, StoreError

if TYPE_CHECKING:
    from clientcore.identity.sync import IdentityService

log = logging.getLogger("clientcore.personalize")

FOLLOW_SECONDS = 5.0
WATERMARK_SECONDS = 1.0
TAIL_SECONDS = 1.0  # the background catch-up, for writers other than this server's collector


class RecommendationService:
    def __init__(
        self,
        store: Store,
        root: Path,
        clock: Callable[[], float] = time.time,
        follow_seconds: float = FOLLOW_SECONDS,
        identity: Callable[[], IdentityService | None] | None = None,
        committed: Callable[[], int] | None = None,
    ) -> None:
        """`identity` (the server's identity graph) turns on answering from memory;
        `committed` counts the events this server's collector committed so far."""
        self.store = store
        self.root = root
        self.clock = clock
        self.follow_seconds = follow_seconds
        self._model: Recommender | None = None
        self._swap = threading.Lock()  # one load or training at a time
        self._readers: queue.SimpleQueue[Store] = queue.SimpleQueue()
        self._opened: list[Store] = []
        self._opened_lock = threading.Lock()
        self._next_check = 0.0
        self._watermark = (0, 0.0)
        self.swaps = 0
        self.spec = load_spec()
        # A request is a chain of tiny BLAS calls (fold-in, one mat-vec): with OpenBLAS's
        # threads each pays a wake-up worth more than the work on a busy machine, so the
        # process serving recommendations keeps BLAS to one thread (restored on close).
        self._blas = threadpool_limits(limits=1, user_api="blas")
        self._identity = identity
        self._committed = committed or (lambda: 0)
        self._seen = -1  # `committed` when the tail last caught up
        self.tail: LogTail | None = None
        self.answered = {"memory": 0, "store": 0}  # where requests read their context
        self._tail_lock = threading.Lock()
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None

    # -- model lifecycle ---------------------------------------------------------------
    @property
    def model(self) -> Recommender:
        model = self._model
        if model is None:
            raise NoModelError("no recommendation model yet: run `clientcore recommend train`")
        return model

    def load_current(self) -> str | None:
        """Load the version CURRENT names, if any (server start)."""
        try:
            return str(self.reload()["version"])
        except NoModelError:
            return None

    def reload(self) -> dict[str, Any]:
        """Load the version CURRENT names and swap it in (a no-op when it is already in)."""
        with self._swap:
            previous = self._model.version if self._model else None
            name = current_version(self.root)
            if name is not None and name == previous:
                return {"version": name, "previous": previous, "swapped": False}
            fresh = Recommender.load(self.root, name)
            fresh.warm()
            self._install(fresh)
            return {"version": fresh.version, "previous": previous, "swapped": True}

    def install(self, model: Recommender) -> None:
        with self._swap:
            self._install(model)

    def _install(self, model: Recommender) -> None:
        self._model = model  # the swap: one reference assignment
        self.swaps += 1
        if self._identity is not None and self.tail is None:
            self._start_tail(model.watermark)

    def _start_tail(self, base: int) -> None:
        """Read the log's tail (events after `base`, the first model's watermark, and the last
        hours) and keep following it."""
        with self._tail_lock:
            if self.tail is not None or self._identity is None:
                return
            seen = self._committed()
            self.tail = LogTail(self.store.reader(), base, self._identity, self.clock)
            self._seen = seen
        self._follower = threading.Thread(
            target=self._follow_tail, name="clientcore-recs-tail", daemon=True
        )
        self._follower.start()

    def _follow_tail(self) -> None:
        while not self._stop.wait(TAIL_SECONDS):
            try:
                self._catch_up()
            except Exception:  # logged; the next round tries again (requests catch up too)
                log.exception("following the event log failed; retrying in a second")

    def _catch_up(self) -> None:
        tail, model = self.tail, self._model
        if tail is None:
            return
        seen = self._committed()
        tail.catch_up(model.watermark if model is not None else None)
        self._seen = seen

    def follow(self) -> None:
        """Every few seconds at most: if CURRENT moved, load the new version in the
        background (requests keep using the old one meanwhile)."""
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self.follow_seconds
        name = current_version(self.root)
        model = self._model
        if name is None or (model is not None and model.version == name):
            return
        if self._swap.locked():
            return
        threading.Thread(target=self.load_current, name="clientcore-recs-load", daemon=True).start()

    def train(self, **options: Any) -> dict[str, Any]:
        """Train a new version from this store and swap it in."""
        from clientcore.personalize.train import train

        with self._swap, self._reader() as store:
            report = train(store, self.root, **options)
            fresh = Recommender.load(self.root, report.version)
            fresh.warm()
            self._install(fresh)
        return report.to_dict()

    # -- requests ------------------------------------------------------------------------
    @contextmanager
    def _reader(self) -> Iterator[Store]:
        try:
            store = self._readers.get_nowait()
        except queue.Empty:
            store = self.store.reader()
            with self._opened_lock:
                self._opened.append(store)
        try:
            yield store
        finally:
            self._readers.put(store)

    def recommend(
        self,
        profile: str | None = None,
        session: str | None = None,
        channel: str | None = None,
        k: int = 10,
        rules: Rules | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """The document of `GET /v1/recommendations`."""
        if not 1 <= k <= MAX_K:
            raise InvalidRequestError(f"must be between 1 and {MAX_K}", "k")
        if channel is not None and channel not in CHANNELS:
            raise InvalidRequestError(f"must be one of {', '.join(CHANNELS)}", "channel")
        self.follow()
        model = self.model  # this request's model, whatever is swapped in meanwhile
        now = at.timestamp() if at is not None else self.clock()
        code = CHANNELS.index(channel) if channel is not None else None
        live = self._context(model, profile, session, now, code)
        chosen = rules or Rules()
        if live.context.has_session:
            # the visit's own products are what the shopper is looking at: suggest others
            own = set(live.context.items[live.context.session].tolist())
            chosen = replace(chosen, exclude=frozenset(chosen.exclude | own))
        items = model.recommend(live.context, k, chosen)
        return {
            "model_version": model.version,
            "profile_id": live.profile_id,
            "session": session,
            "channel": CHANNELS[live.context.channel],
            "at": datetime.fromtimestamp(now, UTC).isoformat(),
            "context": {
                "history_events": int((~live.context.session).sum()),
                "new_events": live.new_events,
                "session_events": live.session_events,
            },
            "items": [
                {
                    "rank": rank,
                    **model.describe(r.item),
                    "score": round(r.score, 4),
                    "reason": r.reason,
                }
                for rank, r in enumerate(items, start=1)
            ],
        }

    def from_memory(self, at: datetime | None = None) -> bool:
        """Will a request at `at` be answered from memory alone, without a catch-up? (The
        route runs those on the event loop, the rest in a worker thread.)"""
        tail, model = self.tail, self._model
        if tail is None or model is None:
            return False
        now = at.timestamp() if at is not None else self.clock()
        return (
            tail.covers(now, model.watermark)
            and self._committed() == self._seen
            and not tail.behind()
        )

    def _context(
        self,
        model: Recommender,
        profile: str | None,
        session: str | None,
        now: float,
        channel: int | None,
    ) -> LiveContext:
        tail = self.tail
        if tail is not None and tail.covers(now, model.watermark):
            fresh = True
            if self._committed() != self._seen or tail.behind():
                try:
                    self._catch_up()  # what was just collected counts at once
                except StoreError:  # the store says what the tail could not read
                    log.exception("catching up with the event log failed; reading the store")
                    fresh = False
            if fresh:
                self.answered["memory"] += 1
                return context_of(tail, model, profile, session, now, channel)
        self.answered["store"] += 1
        with self._reader() as store:
            source = StoreSource(store, self.spec, self._identity_watermark(store))
            return context_of(source, model, profile, session, now, channel)

    def _identity_watermark(self, store: Store) -> int:
        """The identity follower's watermark, read at most once a second: a stale value is
        smaller, which only widens the scan for events identity has not stitched yet."""
        value, expires = self._watermark
        if time.monotonic() >= expires:
            value = int(store.query(IDENTITY_WATERMARK)[0][0])
            self._watermark = (value, time.monotonic() + WATERMARK_SECONDS)
        return value

    def status(self) -> dict[str, Any]:
        model = self._model
        return {
            "version": model.version if model else None,
            "current_on_disk": current_version(self.root),
            "swaps": self.swaps,
            "answered": dict(self.answered),
            "log_tail": self.tail.status() if self.tail is not None else None,
            "meta": model.meta if model else None,
        }

    def close(self) -> None:
        self._stop.set()
        if self._follower is not None:
            self._follower.join(timeout=30)
        if self.tail is not None and self.tail.store is not self.store:
            self.tail.store.close()
        self._blas.restore_original_limits()
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for store in opened:
            if store is not self.store:
                store.close()
