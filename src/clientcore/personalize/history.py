"""Every profile's recent product history, held in memory as flat arrays.

The server answers from this (plus what the store says happened since the model's watermark),
so a recommendation never scans a person's whole event log; training and evaluation cut
contexts out of it at any moment in the past.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from clientcore.personalize.data import Interactions
from clientcore.personalize.features import Context

MAX_HISTORY = 200  # latest interactions kept per profile
_BASE = 1_500_000_000.0  # times are stored as int32 seconds after 2017-07-14


@dataclass(frozen=True)
class HistoryIndex:
    profiles: np.ndarray  # sorted distinct profile ids
    ptr: np.ndarray  # rows of profiles[k] are ptr[k]:ptr[k+1], oldest first
    items: np.ndarray  # int32
    kinds: np.ndarray  # int8
    times: np.ndarray  # int32 seconds after _BASE
    channels: np.ndarray  # int8
    # Each profile's identifier ids at training (rows aligned with `profiles`): a request
    # finds the events after the watermark through them without asking the store.
    ident_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    ident_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def build(cls, data: Interactions, limit: int = MAX_HISTORY) -> HistoryIndex:
        rows = np.flatnonzero(data.profile >= 0)
        order = rows[np.lexsort((data.t[rows], data.profile[rows]))]
        profile = data.profile[order]
        ids, starts, counts = np.unique(profile, return_index=True, return_counts=True)
        ends = starts + counts
        # Keep each profile's latest `limit` rows.
        rank_from_end = np.repeat(ends, counts) - np.arange(len(order)) - 1
        kept = order[rank_from_end < limit]
        kept_counts = np.minimum(counts, limit)
        return cls(
            profiles=ids,
            ptr=np.concatenate([[0], np.cumsum(kept_counts)]).astype(np.int64),
            items=data.item[kept].astype(np.int32),
            kinds=data.kind[kept].astype(np.int8),
            times=np.round(data.t[kept] - _BASE).astype(np.int32),
            channels=data.channel[kept].astype(np.int8),
        )

    def with_identifiers(self, profile: np.ndarray, identifier: np.ndarray) -> HistoryIndex:
        """The same index holding each profile's identifier ids (pairs in any order)."""
        keep = np.isin(profile, self.profiles)
        profile, identifier = profile[keep], identifier[keep]
        order = np.lexsort((identifier, profile))
        rows = np.searchsorted(self.profiles, profile[order])
        counts = np.bincount(rows, minlength=len(self.profiles))
        return replace(
            self,
            ident_ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            ident_ids=identifier[order].astype(np.int64),
        )

    def identifiers(self, profile: int) -> np.ndarray | None:
        """The profile's identifier ids at training, or None when unknown then."""
        k = self._row(profile)
        if k is None or len(self.ident_ptr) != len(self.profiles) + 1:
            return None
        return self.ident_ids[int(self.ident_ptr[k]) : int(self.ident_ptr[k + 1])]

    def __contains__(self, profile: int) -> bool:
        return self._row(profile) is not None

    def _row(self, profile: int) -> int | None:
        k = int(np.searchsorted(self.profiles, profile))
        if k < len(self.profiles) and int(self.profiles[k]) == profile:
            return k
        return None

    def rows(self, profile: int, before: float | None = None) -> tuple[np.ndarray, ...]:
        """(items, kinds, times, channels) of one profile, oldest first, strictly before
        `before` when given."""
        k = self._row(profile)
        if k is None:
            empty = np.zeros(0)
            return empty.astype(np.int32), empty.astype(np.int8), empty, empty.astype(np.int8)
        lo, hi = int(self.ptr[k]), int(self.ptr[k + 1])
        times = self.times[lo:hi].astype(np.float64) + _BASE
        cut = hi - lo if before is None else int(np.searchsorted(times, before, side="left"))
        return (
            self.items[lo : lo + cut],
            self.kinds[lo : lo + cut],
            times[:cut],
            self.channels[lo : lo + cut],
        )

    def context(self, profile: int, now: float, channel: int | None = None) -> Context:
        """The profile's history as a context at `now` (no visit going on)."""
        items, kinds, times, channels = self.rows(profile, before=now)
        if channel is None:
            channel = int(channels[-1]) if len(channels) else 0
        return Context(items, kinds, times, np.zeros(len(items), bool), now, channel)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "profiles": self.profiles,
            "ptr": self.ptr,
            "items": self.items,
            "kinds": self.kinds,
            "times": self.times,
            "channels": self.channels,
            "ident_ptr": self.ident_ptr,
            "ident_ids": self.ident_ids,
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> HistoryIndex:
        return cls(
            a["profiles"],
            a["ptr"],
            a["items"],
            a["kinds"],
            a["times"],
            a["channels"],
            a.get("ident_ptr", np.zeros(1, np.int64)),
            a.get("ident_ids", np.zeros(0, np.int64)),
        )
