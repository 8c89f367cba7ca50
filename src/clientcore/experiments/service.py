"""Decisions at request time: assignment, bandit choices, exposure logging, rewards.

The server keeps the running experiments, the global holdout and every bandit's posterior in
memory (refreshed from the store every few seconds, and at once after a change made through
the same process), so ``decide`` costs the identity lookup plus a hash or a draw. Exposures
are buffered and written in batches by one thread every ``flush_seconds``: a decision never
waits for a disk commit, and a crash can lose at most that much of the exposure log (the
assignment itself is deterministic and is never lost). Bandit rewards are written at once.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from clientcore.events.spec import CHANNELS
from clientcore.experiments import registry
from clientcore.experiments.assignment import assign
from clientcore.experiments.bandits import BernoulliThompson, GaussianThompson, TopTwoThompson
from clientcore.experiments.contextual import ContextEncoder, LinearThompson
from clientcore.experiments.errors import BanditStateError, InvalidInputError
from clientcore.experiments.registry import Experiment, UnknownExperimentError
from clientcore.experiments.units import Unit, resolve_in_graph, resolve_unit
from clientcore.identity.sync import IdentityService
from clientcore.store import Store, StoreError

log = logging.getLogger("clientcore.experiments")

REFRESH_SECONDS = 2.0
PROPENSITY_REFRESH_UPDATES = 10
PROPENSITY_REFRESH_SECONDS = 1.0
UNIT_CACHE_SECONDS = 2.0  # an identity merge reaches decisions within this time
UNIT_CACHE_SIZE = 100_000

Policy = BernoulliThompson | GaussianThompson | TopTwoThompson | LinearThompson

EXPOSURE_SCHEMA = pa.schema(
    [
        ("experiment_id", pa.string()),
        ("unit", pa.string()),
        ("identifier", pa.string()),
        ("variant", pa.string()),
        ("probability", pa.float64()),
        ("channel", pa.string()),
        ("decision_id", pa.string()),
        ("context", pa.string()),
        ("exposed_at", pa.timestamp("us", tz="UTC")),
    ]
)


class DuplicateRewardError(InvalidInputError):
    """A decision can be rewarded once."""


def encoder_for(features: tuple[str, ...]) -> ContextEncoder:
    """Context features: ``channel`` (the known channels) or ``name=level1|level2|…``."""
    categorical: dict[str, list[str]] = {}
    for feature in features:
        name, _, levels = feature.partition("=")
        if levels:
            categorical[name] = [lv for lv in levels.split("|") if lv]
        elif name == "channel":
            categorical[name] = list(CHANNELS)
        else:
            raise InvalidInputError(
                f"features: {feature!r} needs its levels, as {name}=level1|level2"
            )
    return ContextEncoder(categorical)


def new_policy(experiment: Experiment) -> Policy:
    arms = [v.name for v in experiment.variants]
    seed = int.from_bytes(uuid.uuid5(uuid.NAMESPACE_URL, experiment.id).bytes[:4], "big")
    if experiment.policy == "linear_thompson":
        encoder = encoder_for(experiment.features)
        return LinearThompson(arms, encoder.dim, encoder=encoder, seed=seed)
    model = (
        GaussianThompson(arms, seed=seed)
        if experiment.reward == "gaussian"
        else BernoulliThompson(arms, seed=seed)
    )
    return TopTwoThompson(model) if experiment.policy == "top_two" else model


def policy_of(experiment: Experiment) -> Policy:
    """The bandit's saved posterior, or a fresh one before its first reward."""
    return policy_from_state(experiment.state) if experiment.state else new_policy(experiment)


def policy_from_state(state: Mapping[str, Any]) -> Policy:
    kinds: dict[str, Any] = {
        cls.kind: cls for cls in (BernoulliThompson, GaussianThompson, TopTwoThompson)
    }
    kinds[LinearThompson.kind] = LinearThompson
    cls = kinds.get(str(state.get("kind")))
    if cls is None:
        raise BanditStateError(f"unknown bandit state kind {state.get('kind')!r}")
    return cls.from_dict(dict(state))  # type: ignore[no-any-return]


@dataclass
class _Bandit:
    experiment: Experiment
    policy: Policy
    lock: threading.Lock
    cached: np.ndarray | None = None
    cached_at: float = 0.0
    updates_since: int = 0


class ExposureLog:
    """Buffered exposure rows, written by one background thread (or on ``flush``)."""

    def __init__(self, store: Store, flush_seconds: float = 0.2, background: bool = True) -> None:
        self._store = store
        self._rows: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self.written = 0
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(
                target=self._run, args=(flush_seconds,), name="clientcore-exposures", daemon=True
            )
            self._thread.start()

    def add(self, row: tuple[Any, ...]) -> None:
        with self._lock:
            self._rows.append(row)

    def flush(self) -> int:
        with self._flush_lock:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            columns = list(zip(*rows, strict=True))
            table = pa.table(
                [
                    pa.array(col, type=f.type)
                    for col, f in zip(columns, EXPOSURE_SCHEMA, strict=True)
                ],
                schema=EXPOSURE_SCHEMA,
            )
            self._store.write_table("experiment_exposures", table)
            self.written += len(rows)
            return len(rows)

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()


class ExperimentService:
    """What ``/v1/decide`` and ``/v1/bandits/{id}/reward`` call; one per server process."""

    def __init__(
        self,
        store: Store,
        *,
        background: bool = True,
        identity: Callable[[], IdentityService | None] | None = None,
    ) -> None:
        """``identity`` gives the server's live identity graph, when it stitches as events
        arrive: decisions then resolve people in memory instead of in the store."""
        self._store = store
        self._identity = identity
        self._local = threading.local()
        self._units: dict[str, tuple[Unit, float]] = {}
        self._lock = threading.Lock()
        self._experiments: dict[str, Experiment] = {}
        self._bandits: dict[str, _Bandit] = {}
        self._pending: dict[str, tuple[str, str, dict[str, Any]]] = {}
        self._holdout = 0.0
        self._loaded_at = -math.inf
        self._refresh_lock = threading.Lock()
        # The log writes on a cursor of its own: a flush (and the checkpoint a commit can
        # trigger) must never hold up the definitions a decision reads.
        self._exposure_store = store.reader()
        self.exposures = ExposureLog(self._exposure_store, background=background)
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None
        if background:
            self._refresher = threading.Thread(
                target=self._refresh_every, name="clientcore-experiments", daemon=True
            )
            self._refresher.start()

    # -- configuration ----------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Reload definitions and the holdout; without ``force``, only when they are stale.

        The store is read before any lock a decision takes, and the new state swapped in at
        once: a slow read delays the next refresh, never a decision.
        """
        if not force and time.monotonic() - self._loaded_at < REFRESH_SECONDS:
            return
        with self._refresh_lock:
            if not force and time.monotonic() - self._loaded_at < REFRESH_SECONDS:
                return
            experiments = {e.id: e for e in registry.list_all(self._store)}
            holdout = registry.holdout_share(self._store)
            with self._lock:
                for exp in experiments.values():
                    if exp.kind != "bandit":
                        continue
                    known = self._bandits.get(exp.id)
                    if known is None:
                        self._bandits[exp.id] = _Bandit(exp, policy_of(exp), threading.Lock())
                    else:
                        known.experiment = exp
                self._experiments, self._holdout = experiments, holdout
            self._loaded_at = time.monotonic()

    def _refresh_every(self) -> None:
        """A server's decisions read definitions from memory; this thread keeps them fresh."""
        while not self._stop.wait(REFRESH_SECONDS / 2):
            try:
                self.refresh()
            except StoreError:  # the next round retries; decisions go on with what they have
                log.exception("reloading experiment definitions failed; retrying")

    def _fresh(self) -> None:
        """On the request path: refresh inline only where no background thread does it."""
        if self._refresher is None:
            self.refresh()

    def experiment(self, experiment_id: str) -> Experiment:
        self._fresh()
        found = self._experiments.get(experiment_id)
        if found is None:
            self.refresh(force=True)
            found = self._experiments.get(experiment_id)
        if found is None:
            raise UnknownExperimentError(f"no experiment {experiment_id!r}")
        return found

    def answers_from_memory(self, experiment_id: str) -> bool:
        """Whether a decision needs no store query: a background thread keeps the definitions
        and a server's stitching keeps the identity graph (else people are looked up)."""
        return (
            self._refresher is not None
            and experiment_id in self._experiments
            and self._identity is not None
            and self._identity() is not None
        )

    # -- decisions --------------------------------------------------------------------
    def decide(
        self,
        experiment_id: str,
        identifier: str,
        *,
        channel: str | None = None,
        context: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """The variant for whoever ``identifier`` denotes, logged as an exposure when given."""
        if not identifier or not identifier.strip():
            raise InvalidInputError("profile: an identifier is required")
        if channel is not None and channel not in CHANNELS:
            raise InvalidInputError(f"channel: must be one of {list(CHANNELS)}, got {channel!r}")
        experiment = self.experiment(experiment_id)
        unit = self._unit(identifier)
        when = now or datetime.now(UTC)
        gate = assign(
            experiment.id,
            unit.key,
            variants=experiment.variants,
            layer=experiment.layer,
            bucket_range=experiment.bucket_range,
            holdout=self._holdout,
            running=experiment.running,
        )
        doc: dict[str, Any] = {
            "experiment": experiment.id,
            "profile_id": unit.profile_id,
            "unit": unit.key,
            "variant": gate.variant,
            "probability": gate.probability,
            "reason": gate.reason,
        }
        if gate.variant is None:
            return doc
        ctx = dict(context or {})
        if channel is not None:
            ctx.setdefault("channel", channel)
        decision_id = None
        if experiment.kind == "bandit":
            decision_id = uuid.uuid4().hex
            arm, probability, propensities = self._choose(experiment, ctx)
            doc.update(
                variant=arm,
                probability=probability,
                propensities=propensities,
                decision_id=decision_id,
            )
            with self._lock:
                self._pending[decision_id] = (experiment.id, arm, ctx)
        self.exposures.add(
            (
                experiment.id,
                unit.key,
                identifier,
                doc["variant"],
                doc["probability"],
                channel,
                decision_id,
                orjson.dumps(ctx).decode() if ctx else None,
                when,
            )
        )
        return doc

    def _unit(self, identifier: str) -> Unit:
        """Resolved on this thread's own cursor (DuckDB runs them side by side), and kept for
        UNIT_CACHE_SECONDS: a visitor's page views ask again and again within seconds."""
        now = time.monotonic()
        cached = self._units.get(identifier)
        if cached is not None and cached[1] > now:
            return cached[0]
        graph = self._identity() if self._identity is not None else None
        if graph is not None:
            unit = resolve_in_graph(graph, identifier)
        else:
            unit = resolve_unit(self._reader(), identifier)
        if len(self._units) >= UNIT_CACHE_SIZE:
            self._units.clear()
        self._units[identifier] = (unit, now + UNIT_CACHE_SECONDS)
        return unit

    def _reader(self) -> Store:
        if self._store.backend != "duckdb":
            return self._store
        reader: Store | None = getattr(self._local, "reader", None)
        if reader is None:
            reader = self._local.reader = self._store.reader()
        return reader

    def _bandit(self, experiment: Experiment) -> _Bandit:
        bandit = self._bandits.get(experiment.id)
        if bandit is None:
            self.refresh(force=True)
            bandit = self._bandits[experiment.id]
        return bandit

    def _choose(
        self, experiment: Experiment, context: Mapping[str, Any]
    ) -> tuple[str, float, dict[str, float]]:
        bandit = self._bandit(experiment)
        policy = bandit.policy
        with bandit.lock:
            if isinstance(policy, LinearThompson):
                decision = policy.select(context)
                probs = np.asarray(decision.propensities)
                arm, probability = decision.arm, decision.propensity
            else:
                now = time.monotonic()
                stale = (
                    bandit.cached is None
                    or bandit.updates_since >= PROPENSITY_REFRESH_UPDATES
                    or now - bandit.cached_at > PROPENSITY_REFRESH_SECONDS
                )
                if stale:
                    bandit.cached = np.asarray(policy.propensities(), dtype=float)
                    bandit.cached /= bandit.cached.sum()
                    bandit.cached_at, bandit.updates_since = now, 0
                probs = bandit.cached
                assert probs is not None
                model = policy.model if isinstance(policy, TopTwoThompson) else policy
                rng = model._rng()
                index = int(rng.choice(len(probs), p=probs))
                arm, probability = policy.arms[index], float(probs[index])
        return arm, probability, {a: float(p) for a, p in zip(policy.arms, probs, strict=True)}

    def reward(self, experiment_id: str, decision_id: str, reward: float) -> dict[str, Any]:
        """Credit one logged decision; the posterior moves at once and is saved."""
        return self.reward_many(experiment_id, [(decision_id, reward)])[0]

    def reward_many(
        self, experiment_id: str, rewards: Sequence[tuple[str, float]]
    ) -> list[dict[str, Any]]:
        """Credit several decisions in one transaction (feedback often arrives in batches).

        Everything is checked first; one bad item stores nothing of the batch.
        """
        experiment = self.experiment(experiment_id)
        if experiment.kind != "bandit":
            raise InvalidInputError(f"experiment: {experiment_id!r} is not a bandit")
        ids = [decision_id for decision_id, _ in rewards]
        if len(set(ids)) != len(ids):
            raise DuplicateRewardError("decision_id: the same decision twice in one batch")
        for _, value in rewards:
            if not math.isfinite(value):
                raise InvalidInputError(f"reward: must be a finite number, got {value}")
            if experiment.reward == "bernoulli" and not 0.0 <= value <= 1.0:
                raise InvalidInputError(
                    f"reward: a bernoulli bandit takes rewards in [0, 1], got {value}"
                )
        decisions = self._decisions(ids)
        for decision_id in ids:
            found = decisions.get(decision_id)
            if found is None:
                raise InvalidInputError(f"decision_id: no decision {decision_id!r}")
            if found[0] != experiment_id:
                raise InvalidInputError(
                    f"decision_id: decision {decision_id!r} belongs to experiment {found[0]!r}"
                )
        bandit = self._bandit(experiment)
        now = datetime.now(UTC)
        with bandit.lock:
            marks = ", ".join("?" for _ in ids)
            done = self._store.query(
                f"SELECT decision_id FROM bandit_rewards WHERE decision_id IN ({marks})", ids
            )
            if done:
                raise DuplicateRewardError(f"decision_id: {done[0][0]!r} was already rewarded")
            policy = bandit.policy
            before = policy.to_dict()
            try:
                with self._store.transaction():
                    self._store.write_table(
                        "bandit_rewards",
                        pa.table(
                            {
                                "decision_id": pa.array(ids, pa.string()),
                                "experiment_id": pa.array([experiment_id] * len(ids), pa.string()),
                                "reward": pa.array([float(v) for _, v in rewards], pa.float64()),
                                "rewarded_at": pa.array(
                                    [now] * len(ids), pa.timestamp("us", tz="UTC")
                                ),
                            }
                        ),
                    )
                    for decision_id, value in rewards:
                        _, arm, context = decisions[decision_id]
                        if isinstance(policy, LinearThompson):
                            policy.update(arm, float(value), context)
                        else:
                            policy.update(arm, float(value))
                    registry.save_state(self._store, experiment_id, policy.to_dict())
            except BaseException:
                bandit.policy = policy_from_state(before)  # memory follows the rolled-back store
                raise
            bandit.updates_since += len(ids)
        with self._lock:
            for decision_id in ids:
                self._pending.pop(decision_id, None)
        return [
            {
                "experiment": experiment_id,
                "decision_id": decision_id,
                "arm": decisions[decision_id][1],
                "reward": value,
            }
            for decision_id, value in rewards
        ]

    def _decisions(self, ids: Sequence[str]) -> dict[str, tuple[str, str, dict[str, Any]]]:
        """(experiment, arm, context) of each decision: from memory, else from the log."""
        with self._lock:
            found = {i: self._pending[i] for i in ids if i in self._pending}
        missing = [i for i in ids if i not in found]
        if missing:
            self.exposures.flush()
            marks = ", ".join("?" for _ in missing)
            for decision_id, exp_of, arm, context in self._store.query(
                "SELECT decision_id, experiment_id, variant, context FROM experiment_exposures "
                f"WHERE decision_id IN ({marks})",
                missing,
            ):
                found[str(decision_id)] = (
                    str(exp_of),
                    str(arm),
                    orjson.loads(context) if context else {},
                )
        return found

    @property
    def store(self) -> Store:
        return self._store

    def policy(self, experiment_id: str) -> Policy:
        experiment = self.experiment(experiment_id)
        if experiment.kind != "bandit":
            raise InvalidInputError(f"experiment: {experiment_id!r} is not a bandit")
        return self._bandit(experiment).policy

    def forget(self) -> None:
        """Reload definitions and drop cached units now (after a create, a stop or a merge
        here): the next decision must see the change."""
        self._units = {}
        self.refresh(force=True)

    def close(self) -> None:
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout=10)
        self.exposures.close()
        if self._exposure_store is not self._store:
            self._exposure_store.close()


def bandit_summary(policy: Policy) -> dict[str, Any]:
    """Pulls, mean reward and P(best) per arm; the stopping verdict for top-two."""
    if isinstance(policy, LinearThompson):
        # per-context leaders are in the readout; the posterior has no single "best arm"
        return {"kind": policy.kind, "arms": [{"arm": a} for a in policy.arms]}
    model = policy.model if isinstance(policy, TopTwoThompson) else policy
    sums = model.successes if isinstance(model, BernoulliThompson) else model.sums
    counts = model.counts
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    prob_best = policy.prob_best() if isinstance(policy, TopTwoThompson) else policy.propensities()
    doc: dict[str, Any] = {
        "kind": policy.kind,
        "arms": [
            {"arm": a, "rewarded": int(n), "mean_reward": float(m), "prob_best": float(p)}
            for a, n, m, p in zip(model.arms, counts, means, prob_best, strict=True)
        ],
        "leader": model.arms[int(np.argmax(prob_best))],
    }
    if isinstance(policy, TopTwoThompson):
        doc["stop"] = policy.stop_status().to_dict()
    return doc
