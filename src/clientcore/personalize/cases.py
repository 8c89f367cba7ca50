"""Evaluation and training cases from a temporal split of the log.

* known: a customer (non-anonymous identifier, bought before the cut) recommended to at the
  cut from history alone; relevant = what they bought in the window after it.
* anonymous: a web or app visit in the window, seen only through itself: its first half
  (distinct products, in order) is the context, the products it went on to look at, add or
  buy are relevant, and the first half is not recommended back.
* known_session: the same cut of a visit by a known customer, with their history as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from clientcore.personalize.data import BUY, CHANNELS, RETURN, Interactions
from clientcore.personalize.features import Context
from clientcore.personalize.history import HistoryIndex
from clientcore.personalize.sessions import sessions_of

Group = Literal["known", "anonymous", "known_session"]
GROUPS: tuple[Group, ...] = ("known", "anonymous", "known_session")
ONLINE = (CHANNELS.index("web"), CHANNELS.index("mobile"))


@dataclass(frozen=True)
class Case:
    group: Group
    context: Context
    relevant: np.ndarray
    exclude: np.ndarray  # items never recommended back in this case


def build_cases(
    data: Interactions,
    history: HistoryIndex,
    start: float,
    end: float,
    max_per_group: int,
    seed: int = 7,
) -> list[Case]:
    """Cases of every group whose labels fall in [start, end); `history` may hold later rows
    (they are cut off at each case's moment)."""
    rng = np.random.default_rng(seed)
    return _known(data, history, start, end, max_per_group, rng) + _visits(
        data, history, start, end, max_per_group, rng
    )


def _known(
    data: Interactions,
    history: HistoryIndex,
    start: float,
    end: float,
    limit: int,
    rng: np.random.Generator,
) -> list[Case]:
    window = (data.t >= start) & (data.t < end) & (data.kind == BUY) & (data.profile >= 0)
    before = (data.t < start) & (data.kind == BUY) & (data.profile >= 0)
    buyers = np.intersect1d(np.unique(data.profile[window]), np.unique(data.profile[before]))
    buyers = buyers[data.is_known(buyers)]
    if len(buyers) > limit:
        buyers = np.sort(rng.choice(buyers, limit, replace=False))
    rows = np.flatnonzero(window)
    rows = rows[np.isin(data.profile[rows], buyers)]
    order = rows[np.argsort(data.profile[rows], kind="stable")]
    cut = np.flatnonzero(np.diff(data.profile[order])) + 1
    cases = []
    for chunk in np.split(order, cut) if len(order) else []:
        profile = int(data.profile[chunk[0]])
        cases.append(
            Case(
                "known",
                history.context(profile, start),
                np.unique(data.item[chunk]),
                np.zeros(0, np.int64),
            )
        )
    return cases


def _visits(
    data: Interactions,
    history: HistoryIndex,
    start: float,
    end: float,
    limit: int,
    rng: np.random.Generator,
) -> list[Case]:
    near = (data.t >= start - 3600) & (data.t < end) & (data.kind != RETURN)
    part = data.take(near)
    visit = sessions_of(part)
    first = np.full(visit.max() + 1 if len(visit) else 0, np.inf)
    np.minimum.at(first, visit, part.t)
    inside = first[visit] >= start  # visits that begin in the window
    online = np.isin(part.channel, ONLINE)
    rows = np.flatnonzero(inside & online)
    order = rows[np.lexsort((part.t[rows], visit[rows]))]
    cut = np.flatnonzero(np.diff(visit[order])) + 1
    chunks = [c for c in (np.split(order, cut) if len(order) else []) if len(c) >= 2]
    anonymous: list[Case] = []
    known: list[Case] = []
    for k in rng.permutation(len(chunks)):
        if len(anonymous) >= limit and len(known) >= limit:
            break
        chunk = chunks[k]
        items = part.item[chunk]
        distinct, first_pos = np.unique(items, return_index=True)
        if len(distinct) < 2:
            continue
        in_order = distinct[np.argsort(first_pos)]
        keep = max(1, len(in_order) // 2)
        prefix, rest = in_order[:keep], in_order[keep:]
        stop = int(np.sort(first_pos)[keep])  # first row of the first unseen item
        seen = chunk[:stop]
        now = float(part.t[chunk[stop]]) - 1.0
        channel = int(part.channel[chunk[0]])
        session = Context.empty(now, channel).with_session(
            part.item[seen], part.kind[seen], part.t[seen]
        )
        if len(anonymous) < limit:
            anonymous.append(Case("anonymous", session, rest, prefix))
        profile = int(part.profile[chunk[0]])
        if (
            len(known) < limit
            and profile >= 0
            and data.is_known(np.array([profile]))[0]
            and profile in history
        ):
            past = history.context(profile, float(part.t[chunk[0]]), channel)
            if len(past.items):
                ctx = past.with_session(part.item[seen], part.kind[seen], part.t[seen])
                ctx = Context(ctx.items, ctx.kinds, ctx.times, ctx.session, now, channel)
                known.append(Case("known_session", ctx, rest, prefix))
    return anonymous + known
