"""Vectorized identifier strings: random UUIDs, scrambled unique numbers, ISO timestamps.

Identifiers that must be unique across the whole population (user ids, loyalty cards,
phones, order ids) come from a bijection of a global counter, so blocks generated
independently can never collide and no global bookkeeping is needed.
"""

from __future__ import annotations

import numpy as np

_HEX_LOWER = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_HEX_UPPER = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


def _split_fixed(buf: bytes, width: int) -> list[str]:
    text = buf.decode("ascii")
    return [text[i : i + width] for i in range(0, len(text), width)]


def uuid_strings(rng: np.random.Generator, n: int, upper: bool = False) -> list[str]:
    """``n`` random version-4 UUID strings (deterministic for the generator state)."""
    if n == 0:
        return []
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    table = _HEX_UPPER if upper else _HEX_LOWER
    hexd = np.empty((n, 32), dtype=np.uint8)
    hexd[:, 0::2] = table[raw >> 4]
    hexd[:, 1::2] = table[raw & 0x0F]
    out = np.full((n, 36), ord("-"), dtype=np.uint8)
    out[:, 0:8] = hexd[:, 0:8]
    out[:, 9:13] = hexd[:, 8:12]
    out[:, 14:18] = hexd[:, 12:16]
    out[:, 19:23] = hexd[:, 16:20]
    out[:, 24:36] = hexd[:, 20:32]
    return _split_fixed(out.tobytes(), 36)


def hex_strings(rng: np.random.Generator, n: int, width: int) -> list[str]:
    """``n`` random lower-case hex strings of ``width`` characters."""
    if n == 0:
        return []
    digits = rng.integers(0, 16, size=(n, width), dtype=np.uint8)
    return _split_fixed(_HEX_LOWER[digits].tobytes(), width)


def scramble(index: np.ndarray, modulus: int, salt: int) -> np.ndarray:
    """Bijective, random-looking map of ``index`` (< modulus) onto ``[0, modulus)``.

    A balanced Feistel network on the next even power of two, with cycle walking to
    stay inside ``[0, modulus)``: distinct inputs always give distinct outputs.
    """
    idx = np.asarray(index, dtype=np.uint64)
    if idx.size and int(idx.max()) >= modulus:
        raise ValueError("index out of range for scramble")
    bits = max(2, (modulus - 1).bit_length())
    bits += bits % 2
    out = _feistel(idx, bits, salt)
    outside = out >= modulus
    while outside.any():
        out[outside] = _feistel(out[outside], bits, salt)
        outside = out >= modulus
    return out.astype(np.int64)


def _feistel(x: np.ndarray, bits: int, salt: int) -> np.ndarray:
    half = bits // 2
    mask = np.uint64((1 << half) - 1)
    left, right = x >> np.uint64(half), x & mask
    with np.errstate(over="ignore"):
        for rnd in range(4):
            key = np.uint64((salt * 0x9E3779B97F4A7C15 + rnd * 0xBF58476D1CE4E5B9) % 2**64)
            f = (right ^ key) * np.uint64(0x94D049BB133111EB)
            f ^= f >> np.uint64(29)
            left, right = right, (left ^ f) & mask
    return (left << np.uint64(half)) | right


def digit_strings(values: np.ndarray, width: int) -> list[str]:
    """Zero-padded decimal strings of non-negative integers."""
    return [str(v).zfill(width) for v in np.asarray(values).tolist()]


def luhn_complete(bodies: list[str]) -> list[str]:
    """Append the Luhn check digit, as real loyalty and payment cards carry one."""
    if not bodies:
        return []
    width = len(bodies[0])
    raw = np.frombuffer("".join(bodies).encode("ascii"), dtype=np.uint8).reshape(-1, width)
    digits = raw.astype(np.int64) - ord("0")
    # Doubling applies to every second digit counting from the right of the full number,
    # which (with the check digit appended) is the rightmost digit of the body.
    weights = np.where((np.arange(width)[::-1] % 2) == 0, 2, 1)
    doubled = digits * weights
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    check = (10 - doubled.sum(axis=1) % 10) % 10
    return [b + str(c) for b, c in zip(bodies, check.tolist(), strict=True)]


_DAY_MS = 86_400_000
_TWO_DIGITS = np.array([list(f"{i:02d}".encode()) for i in range(100)], dtype=np.uint8)
_THREE_DIGITS = np.array([list(f"{i:03d}".encode()) for i in range(1000)], dtype=np.uint8)


def iso_ms(ms: np.ndarray) -> list[str]:
    """ISO-8601 UTC strings with milliseconds and a ``Z`` suffix (``2025-03-01T12:00:00.123Z``).

    Built as a byte matrix: numpy's own datetime formatting is several times slower.
    """
    ms = np.asarray(ms, dtype=np.int64)
    n = len(ms)
    if n == 0:
        return []
    days = ms // _DAY_MS
    rem = ms - days * _DAY_MS
    unique_days, inverse = np.unique(days, return_inverse=True)
    dates = np.datetime_as_string(unique_days.astype("datetime64[D]"), unit="D")
    table = np.frombuffer("".join(dates.tolist()).encode("ascii"), dtype=np.uint8)
    out = np.empty((n, 24), dtype=np.uint8)
    out[:, 0:10] = table.reshape(-1, 10)[inverse.ravel()]
    out[:, 10] = ord("T")
    out[:, 11:13] = _TWO_DIGITS[rem // 3_600_000]
    out[:, 13] = ord(":")
    out[:, 14:16] = _TWO_DIGITS[(rem // 60_000) % 60]
    out[:, 16] = ord(":")
    out[:, 17:19] = _TWO_DIGITS[(rem // 1000) % 60]
    out[:, 19] = ord(".")
    out[:, 20:23] = _THREE_DIGITS[rem % 1000]
    out[:, 23] = ord("Z")
    return _split_fixed(out.tobytes(), 24)


def iso_days(ms: np.ndarray) -> list[str]:
    """``YYYY-MM-DD`` strings for millisecond timestamps (UTC)."""
    arr = np.asarray(ms, dtype="int64").astype("datetime64[ms]").astype("datetime64[D]")
    return np.datetime_as_string(arr, unit="D").tolist()
