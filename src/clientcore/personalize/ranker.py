"""The learned ranker that merges the candidates: LightGBM LambdaRank (LambdaMART).

Trained on a temporal split — candidate models fitted on the log before a cut, labels from
what people did after it — so no feature ever sees its own label. `reasons` asks it which
signal holds each listed item up.
"""

from __future__ import annotations

import ctypes
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from clientcore.personalize.features import FEATURES


@dataclass(frozen=True)
class RankerSettings:
    trees: int = 100
    leaves: int = 31
    learning_rate: float = 0.1
    min_rows_in_leaf: int = 100
    negatives: int = 100  # irrelevant candidates kept per group (at random): faster, as good
    threads: int = 1  # OpenMP spin-waits badly on a shared 2-core machine; 1 is steadier
    seed: int = 7


class Ranker:
    def __init__(self, booster: Any) -> None:
        self.booster = booster
        self._direct = _DirectPredict.of(booster)

    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        y: np.ndarray,
        groups: np.ndarray,
        settings: RankerSettings | None = None,
    ) -> Ranker:
        """LambdaRank on groups (one per context, in row order) for a fixed number of trees.

        Early stopping on a held-out tenth of the lists was tried: its NDCG@20 is noisy enough
        to stop after a handful of trees; 100 trees scored as well or better on the demo retailers.
        """
        import lightgbm as lgb

        s = settings or RankerSettings()
        params = {
            "objective": "lambdarank",
            "lambdarank_truncation_level": 40,
            "num_leaves": s.leaves,
            "learning_rate": s.learning_rate,
            "min_data_in_leaf": s.min_rows_in_leaf,
            "feature_fraction": 0.9,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "num_threads": s.threads,
            "seed": s.seed,
            "deterministic": True,
            "force_row_wise": True,
            "max_bin": 63,
            "verbose": -1,
        }
        rng = np.random.default_rng(s.seed)
        X, y, groups = _fewer_negatives(X, y, groups, s.negatives, rng)
        train = lgb.Dataset(X, y, group=groups, feature_name=list(FEATURES), free_raw_data=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # lightgbm's notes on its own params
            booster = lgb.train(params, train, num_boost_round=s.trees)
        return cls(booster)

    def predict(self, X: np.ndarray) -> np.ndarray:
        if self._direct is not None and X.dtype == np.float32 and X.flags.c_contiguous:
            return self._direct(X)
        return np.asarray(self.booster.predict(X, num_threads=1), dtype=np.float64)

    def save(self, path: str) -> None:
        self.booster.save_model(path)

    @classmethod
    def load(cls, path: str) -> Ranker:
        import lightgbm as lgb

        return cls(lgb.Booster(model_file=path))

    def importance(self) -> dict[str, float]:
        gain = self.booster.feature_importance(importance_type="gain")
        total = max(float(gain.sum()), 1e-12)
        pairs = sorted(zip(FEATURES, gain, strict=True), key=lambda p: -p[1])
        return {name: round(float(g) / total, 4) for name, g in pairs}


def _fewer_negatives(
    X: np.ndarray, y: np.ndarray, groups: np.ndarray, keep: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every relevant row, and at most `keep` irrelevant rows of each group, in order."""
    group_of = np.repeat(np.arange(len(groups)), groups)
    noise = rng.random(len(y))
    noise[y > 0] = -1.0  # relevant rows sort first and are always kept
    order = np.lexsort((noise, group_of))
    starts = np.concatenate([[0], np.cumsum(groups)])[:-1]
    rank = np.arange(len(y)) - np.repeat(starts, groups)
    positives = np.bincount(group_of, weights=(y > 0), minlength=len(groups))
    chosen = order[rank < np.repeat(positives, groups) + keep]
    chosen.sort()
    return X[chosen], y[chosen], np.bincount(group_of[chosen], minlength=len(groups))


class _DirectPredict:
    """The one C call `Booster.predict` ends in, made directly: a request scores two small
    batches, and the wrapper's checks and objects cost about as much as 20 rows do."""

    def __init__(self, lib: Any, handle: Any) -> None:
        self.lib, self.handle = lib, handle
        self.parameter = ctypes.c_char_p(b"num_threads=1")

    @classmethod
    def of(cls, booster: Any) -> _DirectPredict | None:
        """None when this LightGBM does not expose what the call needs (the wrapper then)."""
        try:
            from lightgbm import basic

            lib, handle = basic._LIB, booster._handle
            _ = lib.LGBM_BoosterPredictForMat
        except (ImportError, AttributeError):
            return None
        return cls(lib, handle)

    def __call__(self, X: np.ndarray) -> np.ndarray:
        rows = X.shape[0]
        out = np.empty(rows, dtype=np.float64)
        if rows == 0:
            return out
        written = ctypes.c_int64(0)
        status = self.lib.LGBM_BoosterPredictForMat(
            self.handle,
            X.ctypes.data_as(ctypes.c_void_p),
            ctypes.c_int(_FLOAT32),
            ctypes.c_int32(rows),
            ctypes.c_int32(X.shape[1]),
            ctypes.c_int(1),  # row major
            ctypes.c_int(0),  # normal prediction
            ctypes.c_int(0),  # from the first tree
            ctypes.c_int(-1),  # to the last
            self.parameter,
            ctypes.byref(written),
            out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
        )
        if status != 0 or written.value != rows:
            raise RuntimeError("LightGBM prediction failed")
        return out


_FLOAT32 = 0  # LightGBM's C_API_DTYPE_FLOAT32
