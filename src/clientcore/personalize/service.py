"""The recommender inside a running server (or a CLI command): one model in memory, swapped
whole.

Requests read `self._model` once and use that object to the end, so a reload or a training
run replaces the reference (one atomic assignment) without stopping or failing a request in
flight; the old version is freed when its last request finishes. A server also follows the
models directory: when another process (a `recommend train` against PostgreSQL, a scheduler)
points `CURRENT` at a new version, the next request after the check interval starts loading it
in the background.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from clientcore.identity.spec import load_spec
from clientcore.personalize.data import CHANNELS
from clientcore.personalize.errors import InvalidRequestError, NoModelError
from clientcore.personalize.live import IDENTITY_WATERMARK, read_context
from clientcore.personalize.model import MAX_K, Recommender, current_version
from clientcore.personalize.rules import Rules
from clientcore.store import Store

FOLLOW_SECONDS = 5.0
WATERMARK_SECONDS = 1.0


class RecommendationService:
    def __init__(
        self,
        store: Store,
        root: Path,
        clock: Callable[[], float] = time.time,
        follow_seconds: float = FOLLOW_SECONDS,
    ) -> None:
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
        with self._reader() as store:
            watermark = self._identity_watermark(store)
            live = read_context(store, model, profile, session, now, code, self.spec, watermark)
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
                    **model.catalog.describe(r.item),
                    "score": round(r.score, 4),
                    "reason": r.reason,
                }
                for rank, r in enumerate(items, start=1)
            ],
        }

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
            "meta": model.meta if model else None,
        }

    def close(self) -> None:
        self._blas.restore_original_limits()
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for store in opened:
            if store is not self.store:
                store.close()
