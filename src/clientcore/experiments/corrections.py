"""Multiple-comparison control across variants x metrics.

Holm controls the family-wise error (any false positive); Benjamini-Hochberg controls the
false discovery rate and is the usual choice for many secondary metrics. NaN p-values (tests
that could not run) are ignored and stay NaN.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

Correction = Literal["none", "holm", "bh"]


def _split(p: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    arr = np.asarray(p, dtype=float).ravel()
    return arr, np.isfinite(arr)


def holm(p_values: ArrayLike) -> NDArray[np.float64]:
    """Holm step-down adjusted p-values: max_{j<=i} (m - j + 1) p_(j), capped at 1."""
    arr, ok = _split(p_values)
    out = np.full(arr.shape, np.nan)
    q = arr[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        adj = np.maximum.accumulate((m - np.arange(m)) * q[order])
        res = np.empty(m)
        res[order] = np.minimum(np.maximum(adj, q[order]), 1.0)  # never below raw
        out[ok] = res
    return out


def benjamini_hochberg(p_values: ArrayLike) -> NDArray[np.float64]:
    """BH step-up adjusted p-values: min_{j>=i} m p_(j) / j, capped at 1."""
    arr, ok = _split(p_values)
    out = np.full(arr.shape, np.nan)
    q = arr[ok]
    m = q.size
    if m:
        order = np.argsort(q, kind="stable")
        scaled = q[order] * m / np.arange(1, m + 1)
        adj = np.minimum.accumulate(scaled[::-1])[::-1]
        res = np.empty(m)
        res[order] = np.minimum(np.maximum(adj, q[order]), 1.0)  # never below raw
        out[ok] = res
    return out


def adjust(p_values: ArrayLike, method: Correction) -> NDArray[np.float64]:
    if method == "holm":
        return holm(p_values)
    if method == "bh":
        return benjamini_hochberg(p_values)
    return np.asarray(p_values, dtype=float).ravel().copy()
