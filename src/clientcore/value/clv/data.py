"""Per-customer summaries as arrays: validation and compression to unique (x, t_x, T) rows.

Likelihoods only depend on (frequency x, recency t_x, age T), and real summaries are computed
on a day grid, so a million customers collapse to far fewer distinct rows. Fitting on the
unique rows with counts as weights gives the same likelihood at a fraction of the cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from clientcore.value.clv.errors import DataError

FloatArray = NDArray[np.float64]

# Grids that day-based summaries land on: days (1), weeks of days (7), hours (24), week-hours.
_GRID_SCALES: tuple[float, ...] = (1.0, 7.0, 24.0, 168.0)
_DENSE_KEY_LIMIT = 1 << 26


@dataclass(frozen=True, slots=True)
class Rft:
    """Distinct (x, t_x, T) rows and how many customers share each one (the weight)."""

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    w: FloatArray

    @property
    def n(self) -> int:
        """Number of customers represented (the sum of the weights)."""
        return round(float(self.w.sum()))


def as_float_array(values: ArrayLike, field: str) -> FloatArray:
    """1-D float64 view of the input, rejecting NaN and inf with the field's name."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise DataError(field, f"expected a 1-D array, got shape {arr.shape}")
    if arr.size and not (np.isfinite(arr.min()) and np.isfinite(arr.max())):
        i = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise DataError(field, f"row {i} is not a finite number ({arr[i]})")
    return arr


def _first_bad(mask: NDArray[np.bool_]) -> int | None:
    return int(np.flatnonzero(mask)[0]) if mask.any() else None


def validate_rft(
    x: ArrayLike, t_x: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Check the summary invariants the likelihoods rely on; raise DataError naming the field.

    The common all-valid case costs a few reductions; masks are built only to report a row.
    """
    xa = as_float_array(x, "frequency")
    ta = as_float_array(t_x, "recency")
    Ta = as_float_array(T, "T")
    if not (xa.shape == ta.shape == Ta.shape):
        raise DataError("frequency/recency/T", f"lengths differ ({xa.size}, {ta.size}, {Ta.size})")
    if xa.size == 0:
        raise DataError("frequency", "no customers")
    over = ta - Ta
    ok = (
        xa.min() >= 0
        and Ta.min() >= 0
        and ta.min() >= 0
        and over.max() <= 0
        and bool((xa.astype(np.int64) == xa).all())
        and float(np.where(xa == 0, ta, 0.0).max()) == 0.0
    )
    if ok:
        return xa, ta, Ta
    checks: tuple[tuple[str, NDArray[np.bool_], str], ...] = (
        ("frequency", (xa < 0) | (xa != np.floor(xa)), "must be a non-negative integer"),
        ("T", Ta < 0, "must be >= 0"),
        ("recency", ta < 0, "must be >= 0"),
        ("recency", over > Ta * 1e-12 + 1e-12, "must not exceed T"),
        ("recency", (xa == 0) & (ta != 0), "must be 0 when frequency is 0"),
    )
    for field, mask, problem in checks:
        i = _first_bad(mask)
        if i is not None:
            raise DataError(
                field, f"{problem} (row {i}: frequency={xa[i]}, recency={ta[i]}, T={Ta[i]})"
            )
    return xa, np.minimum(ta, Ta), Ta


def _grid_codes(values: FloatArray) -> tuple[NDArray[np.int64], float] | None:
    """Integer codes when all values sit on a k/scale grid, which makes a dense key possible."""
    head = values[:2048]
    for scale in _GRID_SCALES:
        if np.abs(head * scale - np.rint(head * scale)).max(initial=0.0) > 1e-6:
            continue  # cheap rejection on a prefix before touching the whole array
        scaled = values * scale
        codes = np.rint(scaled)
        np.subtract(scaled, codes, out=scaled)
        if max(-float(scaled.min(initial=0.0)), float(scaled.max(initial=0.0))) <= 1e-6:
            return codes.astype(np.int64), scale
    return None


def _codes(values: FloatArray) -> tuple[NDArray[np.int64], FloatArray | None, float]:
    """Grid codes when possible, else factorised codes with the table of distinct values."""
    grid = _grid_codes(values)
    if grid is not None:
        return grid[0], None, grid[1]
    uniq, inverse = np.unique(values, return_inverse=True)
    return inverse.astype(np.int64), uniq, 1.0


def _decode(codes: NDArray[np.int64], table: FloatArray | None, scale: float) -> FloatArray:
    return table[codes] if table is not None else codes / scale


def _count_keys(
    key: NDArray[np.int64], size: int, w: FloatArray | None
) -> tuple[NDArray[np.int64], FloatArray]:
    """Distinct keys and summed weights (counts when w is None), dense bincount if possible."""
    if size <= max(_DENSE_KEY_LIMIT, 4 * key.size):
        counts = np.bincount(key, weights=w, minlength=0)
        ukey = np.flatnonzero(counts)
        return ukey.astype(np.int64), np.asarray(counts[ukey], dtype=np.float64)
    ukey, inverse = np.unique(key, return_inverse=True)
    counts = np.bincount(inverse, weights=w)
    keep = counts > 0
    return ukey[keep].astype(np.int64), np.asarray(counts[keep], dtype=np.float64)


def compress(x: ArrayLike, t_x: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None) -> Rft:
    """Collapse customers to unique (x, t_x, T) rows with counts; validates first.

    When recency is on a day grid the whole triple becomes one integer key. Otherwise (e.g.
    continuous simulated times) only the non-repeat buyers, whose t_x is 0, are merged by T
    and repeat buyers stay as they are: sorting floats would cost more than it saves.
    """
    xa, ta, Ta = validate_rft(x, t_x, T)
    wa: FloatArray | None = None
    if weights is not None:
        wa = as_float_array(weights, "weights")
        if wa.shape != xa.shape or (wa < 0).any():
            raise DataError("weights", "must be non-negative and as long as frequency")
    Tc, T_table, T_scale = _codes(Ta)
    T_off = int(Tc.min())
    Tc = Tc - T_off
    nT = int(Tc.max()) + 1
    t_grid = _grid_codes(ta)
    xi = xa.astype(np.int64)
    if t_grid is not None:
        tc, t_scale = t_grid
        t_off = int(tc.min())
        nt = int(tc.max()) - t_off + 1
        size = (int(xi.max()) + 1) * nt * nT
        if size < (1 << 62):
            key = (xi * nt + (tc - t_off)) * nT + Tc
            ukey, uw = _count_keys(key, size, wa)
            T_u = _decode(ukey % nT + T_off, T_table, T_scale)
            rest = ukey // nT
            t_u = (rest % nt + t_off) / t_scale
            return Rft(x=(rest // nt).astype(np.float64), t_x=np.minimum(t_u, T_u), T=T_u, w=uw)
    if wa is None:
        wa = np.ones_like(xa)
    zero = xi == 0
    ukey, uw = _count_keys(Tc[zero], nT, wa[zero])
    rep = ~zero & (wa > 0)
    return Rft(
        x=np.concatenate([np.zeros(ukey.size), xa[rep]]),
        t_x=np.concatenate([np.zeros(ukey.size), ta[rep]]),
        T=np.concatenate([_decode(ukey + T_off, T_table, T_scale), Ta[rep]]),
        w=np.concatenate([uw, wa[rep]]),
    )
