"""What a running server holds: the store, the group-commit writer, a cache of keys."""

from __future__ import annotations

import gc
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from clientcore.collect import AuthError
from clientcore.collect.keys import KeyInfo, authenticate, digest, find_key
from clientcore.collect.writer import GroupCommitWriter
from clientcore.experiments.service import ExperimentService
from clientcore.identity.follower import IdentityFollower
from clientcore.identity.spec import load_spec
from clientcore.identity.sync import IdentityService
from clientcore.store import Store, StoreError, open_store

log = logging.getLogger("clientcore.api")

KEY_CACHE_SECONDS = 5.0  # a key revoked elsewhere stops working within this time


@dataclass
class Runtime:
    store: Store
    writer: GroupCommitWriter
    admin_token: str
    _keys: dict[str, tuple[KeyInfo, float]] = field(default_factory=dict)
    _keys_lock: threading.Lock = field(default_factory=threading.Lock)
    _rechecking: set[str] = field(default_factory=set)
    _rechecks: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="clientcore-keys")
    )
    _reader: Store | None = None

    identity: IdentityFollower | None = None
    _experiments: ExperimentService | None = None
    _experiments_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(
        cls, db_url: str | None, admin_token: str | None = None, stitch: bool = True
    ) -> Runtime:
        store = open_store(db_url)
        store.move_in_background()
        runtime = cls(store, GroupCommitWriter(store), admin_token or secrets.token_urlsafe(32))
        if stitch:
            runtime.identity = IdentityFollower(store, load_spec())
            runtime.writer.on_commit = runtime.identity.notify
        # The identity graph is millions of long-lived objects: left to the collector, each full
        # collection walks them all and stalls every request for up to a second.
        gc.collect()
        gc.freeze()
        return runtime

    @property
    def reader(self) -> Store:
        if self._reader is None:
            self._reader = self.store.reader()
        return self._reader

    @property
    def experiments(self) -> ExperimentService:
        """Decisions and exposure logging, on a cursor of its own (started on first use)."""
        if self._experiments is None:
            with self._experiments_lock:
                if self._experiments is None:
                    self._experiments = ExperimentService(
                        self.store.reader(), identity=self._identity_graph
                    )
        return self._experiments

    def _identity_graph(self) -> IdentityService | None:
        return self.identity.service if self.identity is not None else None

    def key(self, key: str | None, scope: str) -> KeyInfo:
        """Authenticate with a short cache: keys are checked on every request.

        A known key whose entry has expired is answered from the cache while one background
        thread checks it again: the check is a store query, and the auth dependencies run on
        the event loop, where a slow query (behind a commit or a checkpoint) would stall every
        request in flight. A revoked key stops working within KEY_CACHE_SECONDS plus one check.
        """
        if not key:
            return authenticate(self.reader, key, scope)
        hashed = digest(key)
        now = time.monotonic()
        with self._keys_lock:
            cached = self._keys.get(hashed)
            stale = cached is not None and cached[1] <= now and hashed not in self._rechecking
            if stale:
                self._rechecking.add(hashed)
        if stale:
            self._rechecks.submit(self._recheck, key, hashed)
        if cached:
            info = cached[0]
            if info.scope != scope:
                raise AuthError(f"this is a {info.scope} key; a {scope} key is required")
            return info
        info = authenticate(self.reader, key, scope)
        with self._keys_lock:
            self._keys[hashed] = (info, now + KEY_CACHE_SECONDS)
        return info

    def _recheck(self, key: str, hashed: str) -> None:
        try:
            info = find_key(self.reader, key)
        except StoreError:  # the entry stays expired: the next request checks again
            log.exception("re-checking a key failed; it stays cached")
            with self._keys_lock:
                self._rechecking.discard(hashed)
            return
        with self._keys_lock:
            self._rechecking.discard(hashed)
            if info is None or info.revoked_at is not None:
                # The next request is refused, with the reason, by a fresh check.
                self._keys.pop(hashed, None)
            else:
                self._keys[hashed] = (info, time.monotonic() + KEY_CACHE_SECONDS)

    def forget_keys(self) -> None:
        with self._keys_lock:
            self._keys.clear()

    def close(self) -> None:
        self._rechecks.shutdown(wait=True)
        self.writer.close()
        if self._experiments is not None:
            self._experiments.close()
        if self.identity is not None:
            self.identity.close()
        if self._reader is not None and self._reader is not self.store:
            self._reader.close()
        self.store.close()
