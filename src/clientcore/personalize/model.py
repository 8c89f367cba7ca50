"""A trained model version: candidate models, history, ranker — saved as files, served from
memory.

Versions live next to the database (`<db>.models/recs/v<N>/`, or under CLIENTCORE_MODELS);
`recs/CURRENT` names the version in service and is replaced atomically once a version is
complete, so a reader never sees half a model. Loading builds everything a request needs, so
the request path only computes.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from clientcore.personalize.candidates import CandidateModels
from clientcore.personalize.catalog import Catalog
from clientcore.personalize.data import BUY, RETURN
from clientcore.personalize.errors import NoModelError
from clientcore.personalize.factors import Factors, serving_threads
from clientcore.personalize.features import Context, Featurizer, Scored
from clientcore.personalize.history import HistoryIndex
from clientcore.personalize.popularity import Popularity
from clientcore.personalize.ranker import Ranker
from clientcore.personalize.reasons import explain, signals
from clientcore.personalize.rows import distinct
from clientcore.personalize.rules import ItemFacts, Rules, diversify, eligible
from clientcore.personalize.session_knn import SessionKNN

KEEP_VERSIONS = 5
MAX_K = 100


def models_dir(db_url: str) -> Path:
    """CLIENTCORE_MODELS, else `<db>.models` beside a database file, else ./clientcore.models."""
    explicit = os.environ.get("CLIENTCORE_MODELS")
    if explicit:
        return Path(explicit)
    if "://" in db_url or db_url == ":memory:":
        return Path("clientcore.models")
    return Path(db_url + ".models")


def recs_dir(root: Path) -> Path:
    return root / "recs"


def current_version(root: Path) -> str | None:
    pointer = recs_dir(root) / "CURRENT"
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError:
        return None
    return name or None


@dataclass
class Recommendation:
    item: int
    score: float
    reason: dict[str, Any]


class Recommender:
    """One loaded model version."""

    def __init__(
        self,
        version: str,
        meta: dict[str, Any],
        models: CandidateModels,
        history: HistoryIndex,
        ranker: Ranker,
    ) -> None:
        self.version = version
        self.meta = meta
        self.models = models
        self.history = history
        self.ranker = ranker
        self.watermark = int(meta.get("watermark_seq", 0))
        self.featurizer = Featurizer(models, serving_threads())
        c = models.catalog
        self.catalog = c
        self.index = c.index()
        self.facts = ItemFacts(
            in_stock=c.in_stock,
            repeatable=c.repeatable,
            price=c.price,
            margin=c.margin(),
            launched=c.launched,
            category=c.category,
        )
        self.loaded_at = time.time()
        self._described: dict[int, dict[str, Any]] = {}

    def describe(self, item: int) -> dict[str, Any]:
        """The catalog's description of an item, built once per item and model (read only:
        callers copy it)."""
        found = self._described.get(item)
        if found is None:
            found = self._described[item] = self.catalog.describe(item)
        return found

    def warm(self) -> None:
        """Run one request's computations once, so the first real request does not pay for
        lazy set-ups (the fold-in solver, LightGBM's predictor)."""
        items = np.arange(min(3, len(self.catalog)), dtype=np.int32)
        ctx = Context.empty(self.models.now).with_session(
            items, np.zeros(len(items), np.int8), np.full(len(items), self.models.now)
        )
        self.recommend(ctx, 5, Rules())

    # -- serving -------------------------------------------------------------------------
    def rank(self, ctx: Context) -> tuple[Scored, np.ndarray, np.ndarray]:
        """(scored candidates, their order best first, ranker scores)."""
        scored = self.featurizer.score(ctx)
        score = self.ranker.predict(scored.features)
        return scored, np.argsort(-score, kind="stable"), score

    def recommend(self, ctx: Context, k: int, rules: Rules) -> list[Recommendation]:
        """The list after the business rules, with reasons.

        Candidates the rules would drop (bought, returned, out of stock, the visit's own…)
        are dropped before the ranker scores them rather than after: each row's score does
        not depend on the others, so the list is the same, for a third less ranking."""
        scored = self.featurizer.score(ctx)
        bought = distinct(ctx.items[ctx.kinds == BUY])
        returned = distinct(ctx.items[ctx.kinds == RETURN])
        ok = np.flatnonzero(eligible(scored.items, self.facts, rules, bought, returned, ctx.now))
        score = np.full(len(scored.items), -np.inf)
        score[ok] = self.ranker.predict(scored.features[ok]) if len(ok) else 0.0
        ranked = scored.items[ok[np.argsort(-score[ok], kind="stable")]]
        shown = diversify(ranked, self.facts.category, k, rules.category_cap(k))
        if len(shown) == 0:
            return []
        rows = np.searchsorted(scored.items, shown)
        features = scored.features[rows]
        winning = signals(features, score[rows], self.ranker.predict)
        out = []
        for item, row, signal, x in zip(
            shown.tolist(), rows.tolist(), winning, features, strict=True
        ):
            reason = explain(
                signal,
                item,
                scored,
                self.featurizer.conditional,
                self.describe,
                x,
                ctx.channel,
            )
            out.append(Recommendation(item, float(score[row]), reason))
        return out

    # -- files ---------------------------------------------------------------------------
    def save(self, root: Path) -> Path:
        """Write a new version directory, then point CURRENT at it."""
        base = recs_dir(root)
        base.mkdir(parents=True, exist_ok=True)
        number = 1 + max((_number(p.name) for p in base.iterdir() if p.is_dir()), default=0)
        name = f"v{number}"
        staging = base / f".{name}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        m = self.models
        arrays: dict[str, np.ndarray] = {f"catalog_{k}": v for k, v in m.catalog.arrays().items()}
        arrays.update({f"pop_{k}": v for k, v in m.popularity.arrays().items()})
        arrays.update({f"knn_{k}": v for k, v in m.knn.arrays().items()})
        arrays.update(_sparse("cond", m.conditional))
        arrays.update(_sparse("cos", m.cosine))
        arrays["band"] = m.band
        arrays["new_items"] = m.new_items
        arrays["item_factors"] = m.factors.item_factors
        arrays["now"] = np.array(m.now)
        np.savez(staging / "candidates.npz", **arrays)  # type: ignore[arg-type]
        np.savez(staging / "history.npz", **self.history.arrays())  # type: ignore[arg-type]
        self.ranker.save(str(staging / "ranker.txt"))
        meta = dict(self.meta)
        meta["version"] = name
        meta["als"] = {"regularization": m.factors.regularization, "alpha": m.factors.alpha}
        (staging / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
        staging.rename(base / name)
        _point(base, name)
        self.version = name
        self.meta = meta
        _prune(base, keep=KEEP_VERSIONS)
        return base / name

    @classmethod
    def load(cls, root: Path, version: str | None = None) -> Recommender:
        name = version or current_version(root)
        if name is None:
            raise NoModelError("no recommendation model yet: run `clientcore recommend train`")
        where = recs_dir(root) / name
        try:
            meta = json.loads((where / "meta.json").read_text())
            with np.load(where / "candidates.npz") as npz:
                a = {k: npz[k] for k in npz.files}
            with np.load(where / "history.npz") as npz:
                h = {k: npz[k] for k in npz.files}
        except FileNotFoundError as missing:
            raise NoModelError(f"model version {name} is incomplete: {missing}") from None
        catalog = Catalog.from_arrays(a, "catalog_")
        pop = Popularity.from_arrays(_strip(a, "pop_"), catalog.n_categories)
        models = CandidateModels(
            catalog=catalog,
            band=a["band"],
            popularity=pop,
            conditional=_unsparse("cond", a),
            cosine=_unsparse("cos", a),
            knn=SessionKNN.from_arrays(_strip(a, "knn_")),
            factors=Factors(a["item_factors"], **meta["als"]),
            new_items=a["new_items"],
            now=float(a["now"]),
        )
        ranker = Ranker.load(str(where / "ranker.txt"))
        return cls(name, meta, models, HistoryIndex.from_arrays(h), ranker)


def _number(name: str) -> int:
    return int(name[1:]) if name.startswith("v") and name[1:].isdigit() else 0


def _point(base: Path, name: str) -> None:
    tmp = base / ".CURRENT.tmp"
    tmp.write_text(name + "\n")
    os.replace(tmp, base / "CURRENT")


def _prune(base: Path, keep: int) -> None:
    versions = sorted(
        (p for p in base.iterdir() if p.is_dir() and _number(p.name)), key=lambda p: _number(p.name)
    )
    for old in versions[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _sparse(prefix: str, m: sp.csr_matrix) -> dict[str, np.ndarray]:
    m = m.tocsr()
    return {
        f"{prefix}_data": m.data.astype(np.float32),
        f"{prefix}_indices": m.indices,
        f"{prefix}_indptr": m.indptr,
        f"{prefix}_shape": np.array(m.shape),
    }


def _unsparse(prefix: str, a: dict[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(x) for x in a[f"{prefix}_shape"])
    return sp.csr_matrix(
        (a[f"{prefix}_data"].astype(np.float64), a[f"{prefix}_indices"], a[f"{prefix}_indptr"]),
        shape=shape,
    )


def _strip(a: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in a.items() if k.startswith(prefix)}
