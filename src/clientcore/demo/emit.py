"""Collects a block's events as dicts, then orders, stamps and serializes them at once.

Timestamps, message ids and the mobile clock-skew fields are filled in vectorized at
the end, which is why events are created with placeholder keys (dicts keep their key
order, so the JSON stays readable: type, messageId, timestamp, ... ).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import orjson

from clientcore.demo.ids import iso_ms, uuid_strings

Event = dict[str, Any]
_NO_SKEW = -(2**62)  # marks events that do not come from a phone app
_CLOCKS: Event = {"sentAt": None, "receivedAt": None}


class Emitter:
    """Event rows of one block, each tagged with its person and true (server) time."""

    def __init__(self, rng: np.random.Generator, start_ms: int, end_ms: int) -> None:
        self.rng = rng
        self.window = (start_ms, end_ms)
        self.rows: list[Event] = []
        self.who: list[int] = []  # person (block index)
        self.t: list[int] = []  # true (server) time, ms
        self.skew: list[int] = []  # device clock skew, or _NO_SKEW
        self._fresh: list[str] = []
        #: One-off anonymous ids (POS transactions, calls, kiosk sessions): (value, person).
        self.fresh_ids: list[tuple[str, int]] = []
        #: Trap values emitted, as (kind, value, person).
        self.trap_uses: set[tuple[str, str, int]] = set()

    def fresh_anonymous_id(self, who: int) -> str:
        """A new random anonymousId used once (recorded as belonging to ``who``)."""
        if not self._fresh:
            self._fresh = uuid_strings(self.rng, 4096)[::-1]
        value = self._fresh.pop()
        self.fresh_ids.append((value, who))
        return value

    def track(
        self,
        who: int,
        t: int,
        event: str,
        user_id: str | None,
        anonymous_id: str | None,
        context: dict[str, Any],
        properties: dict[str, Any] | orjson.Fragment,
        skew: int | None = None,
    ) -> Event:
        """A ``track`` call; ``skew`` is the device clock skew of app events."""
        if skew is None:
            row: Event = {"type": "track", "messageId": None, "timestamp": None}
        else:
            row = {"type": "track", "messageId": None, "timestamp": None, **_CLOCKS}
        if anonymous_id is not None:
            row["anonymousId"] = anonymous_id
        if user_id is not None:
            row["userId"] = user_id
        row["event"] = event
        row["context"] = context
        row["properties"] = properties
        self.rows.append(row)
        self.who.append(who)
        self.t.append(t)
        self.skew.append(_NO_SKEW if skew is None else skew)
        return row

    def page(
        self,
        who: int,
        t: int,
        kind: str,
        user_id: str | None,
        anonymous_id: str | None,
        context: dict[str, Any],
        name: str,
        properties: dict[str, Any],
        skew: int | None = None,
    ) -> Event:
        """A ``page`` (web) or ``screen`` (app) call."""
        row = self._base(kind, user_id, anonymous_id, skew)
        row["name"] = name
        row["context"] = context
        row["properties"] = properties
        return self._add(who, t, row, skew)

    def identify(
        self,
        who: int,
        t: int,
        user_id: str | None,
        anonymous_id: str | None,
        context: dict[str, Any],
        traits: dict[str, Any],
        skew: int | None = None,
    ) -> Event:
        """An ``identify`` call (traits carry what the person typed)."""
        row = self._base("identify", user_id, anonymous_id, skew)
        row["context"] = context
        row["traits"] = traits
        return self._add(who, t, row, skew)

    def alias(
        self,
        who: int,
        t: int,
        user_id: str,
        previous_id: str,
        context: dict[str, Any],
        skew: int | None = None,
    ) -> Event:
        """An ``alias`` call linking the pre-sign-up anonymous id to the new userId."""
        row = self._base("alias", user_id, None, skew)
        row["previousId"] = previous_id
        row["context"] = context
        return self._add(who, t, row, skew)

    @staticmethod
    def _base(kind: str, user_id: str | None, anonymous_id: str | None, skew: int | None) -> Event:
        row: Event = {"type": kind, "messageId": None, "timestamp": None}
        if skew is not None:
            row.update(_CLOCKS)
        if anonymous_id is not None:
            row["anonymousId"] = anonymous_id
        if user_id is not None:
            row["userId"] = user_id
        return row

    def _add(self, who: int, t: int, row: Event, skew: int | None) -> Event:
        self.rows.append(row)
        self.who.append(who)
        self.t.append(t)
        self.skew.append(_NO_SKEW if skew is None else skew)
        return row

    def serialize(self) -> tuple[bytearray, dict[str, int]]:
        """NDJSON of the block (per person in true-time order, persons in block order) and
        the number of events per name. Events outside the data window are dropped, as an
        export for that window would (e-mail opens after the last day, and so on)."""
        n = len(self.rows)
        if n == 0:
            return bytearray(), {}
        who = np.array(self.who, dtype=np.int64)
        t = np.array(self.t, dtype=np.int64)
        skew = np.array(self.skew, dtype=np.int64)
        order = np.lexsort((np.arange(n), t, who))
        inside = (t >= self.window[0]) & (t < self.window[1])
        order = order[inside[order]]
        message_ids = uuid_strings(self.rng, len(order))
        app = skew != _NO_SKEW
        device_t = t + np.where(app, skew, 0)
        stamps = iso_ms(device_t)
        # The SDK batches: sentAt (device clock) comes a little after the event, and
        # receivedAt is the server clock at arrival, so receivedAt - (sentAt - timestamp) = t.
        app_rows = np.flatnonzero(app)
        delay = self.rng.integers(150, 30_000, len(app_rows))
        sent: list[str | None] = [None] * n
        received: list[str | None] = [None] * n
        for k, a, b in zip(
            app_rows.tolist(),
            iso_ms(device_t[app_rows] + delay),
            iso_ms(t[app_rows] + delay),
            strict=True,
        ):
            sent[k], received[k] = a, b
        app_list = app.tolist()
        dumps = orjson.dumps
        newline = orjson.OPT_APPEND_NEWLINE
        rows = self.rows
        # Appending to one buffer (instead of keeping a bytes object per line) avoids a
        # page fault per event, which otherwise costs more than the serialization itself.
        buf = bytearray()
        counts: Counter[str] = Counter()
        for j, k in enumerate(order.tolist()):
            row = rows[k]
            row["messageId"] = message_ids[j]
            row["timestamp"] = stamps[k]
            if app_list[k]:
                row["sentAt"] = sent[k]
                row["receivedAt"] = received[k]
            buf += dumps(row, option=newline)
            counts[row.get("event") or row["type"]] += 1
        return buf, dict(counts)


def vary_email(email: str, u: float) -> str:
    """How people and staff type an address: mostly as is, sometimes cased or padded."""
    if u < 0.8:
        return email
    if u < 0.88:
        local, domain = email.split("@", 1)
        return ".".join(p.capitalize() for p in local.split(".")) + "@" + domain.capitalize()
    if u < 0.94:
        return email.upper()
    return f" {email} "
