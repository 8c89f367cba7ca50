"""Realistic data-entry errors for the CRM exports.

Typos are the kinds record-linkage research measures (one or two keyboard-neighbour
substitutions, deletions, insertions, transpositions), plus nicknames, swapped name
fields and day/month confusion, so that probabilistic linkage has something to do.
"""

from __future__ import annotations

import random

from clientcore.demo.names import NICKNAMES

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_ROWS):
    for _c, _ch in enumerate(_row):
        near = _row[max(0, _c - 1) : _c] + _row[_c + 1 : _c + 2]
        for _other in (_r - 1, _r + 1):
            if 0 <= _other < len(_ROWS):
                near += _ROWS[_other][max(0, _c - 1) : _c + 1]
        _NEIGHBOURS[_ch] = near


def typo(text: str, r: random.Random) -> str:
    """One edit (sometimes two) of the kinds people make on a keyboard."""
    out = _edit(text, r)
    return _edit(out, r) if r.random() < 0.2 else out


def _edit(text: str, r: random.Random) -> str:
    if len(text) < 3:
        return text
    k = 1 + int(r.random() * (len(text) - 2))  # keep the first letter, as people do
    op = r.random()
    ch = text[k]
    if op < 0.35:
        near = _NEIGHBOURS.get(ch.lower(), "aeiou")
        sub = near[int(r.random() * len(near))] if near else ch
        return text[:k] + (sub.upper() if ch.isupper() else sub) + text[k + 1 :]
    if op < 0.6:
        return text[:k] + text[k + 1 :]
    if op < 0.8:
        return text[:k] + ch + text[k:]
    if k + 1 < len(text):
        return text[:k] + text[k + 1] + ch + text[k + 2 :]
    return text[: k - 1] + ch + text[k - 1]


def nickname(first: str, r: random.Random) -> str:
    """A common nickname for ``first`` if there is one (Robert -> Bob), else ``first``."""
    options = NICKNAMES.get(first)
    if not options:
        return first
    return options[int(r.random() * len(options))]


def swap_day_month(ymd: str) -> str:
    """``YYYY-MM-DD`` with day and month exchanged, when that is still a date."""
    y, m, d = ymd.split("-")
    return f"{y}-{d}-{m}" if int(d) <= 12 else ymd


def us_date(ymd: str) -> str:
    y, m, d = ymd.split("-")
    return f"{m}/{d}/{y}"


def dotted_date(ymd: str) -> str:
    y, m, d = ymd.split("-")
    return f"{d}.{m}.{y}"
