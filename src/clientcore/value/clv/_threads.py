"""Run the optimiser with one BLAS thread.

SciPy's L-BFGS-B makes tiny BLAS/LAPACK calls every iteration; with OpenBLAS threads on a
busy machine each call pays a thread wake-up, which made a 5 ms CDNOW fit take 150 ms. The
likelihoods themselves use no BLAS, so one thread costs nothing. threadpoolctl is used when
installed; otherwise the OpenBLAS libraries already loaded in the process are found through
/proc/self/maps (Linux) and their documented set/get_num_threads entry points are called.
Elsewhere this is a no-op.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from collections.abc import Callable, Iterator

_Pair = tuple[Callable[[], int], Callable[[int], None]]
_cache: dict[str, list[_Pair]] = {}


def _loaded_openblas() -> list[str]:
    if not sys.platform.startswith("linux"):
        return []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = {
                parts[-1]
                for parts in (line.split() for line in fh)
                if len(parts) >= 6 and "openblas" in parts[-1].lower()
            }
    except OSError:
        return []
    return sorted(paths)


def _entry_points(path: str) -> list[_Pair]:
    if path in _cache:
        return _cache[path]
    pairs: list[_Pair] = []
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        lib = None
    if lib is not None:
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                if getter is not None and setter is not None:
                    getter.restype = ctypes.c_int
                    setter.argtypes = [ctypes.c_int]
                    pairs.append((getter, setter))
                    break
            if pairs:
                break
    _cache[path] = pairs
    return pairs


@contextlib.contextmanager
def single_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread inside the block, restoring the previous setting after."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
        return
    pairs = [pair for path in _loaded_openblas() for pair in _entry_points(path)]
    previous = [getter() for getter, _ in pairs]
    for _, setter in pairs:
        setter(1)
    try:
        yield
    finally:
        for (_, setter), old in zip(pairs, previous, strict=True):
            setter(max(int(old), 1))
