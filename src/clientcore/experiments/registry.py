"""Experiments as the store keeps them: definitions, layers, the global holdout, status.

A definition is validated completely before anything is written (errors name the field), and
bucket ranges are allocated inside the same transaction that inserts the row, so two
experiments of one layer can never overlap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from clientcore.experiments.assignment import BUCKETS, Arm, allocate, check_arms
from clientcore.experiments.errors import InvalidInputError
from clientcore.store import Store

Kind = Literal["ab", "bandit"]
Policy = Literal["thompson", "top_two", "linear_thompson"]
RewardKind = Literal["bernoulli", "gaussian"]
Method = Literal["frequentist", "sequential", "bayesian"]

#: metrics computed from the event log per unit (see metrics.py); guardrails are metrics too
METRICS = (
    "conversion",
    "orders",
    "revenue",
    "contribution",
    "retention",
    "returns",
    "complaints",
    "unsubscribes",
)
DEFAULT_METRICS = ("conversion", "revenue", "contribution")
DEFAULT_GUARDRAILS = ("returns", "complaints", "unsubscribes")
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class UnknownExperimentError(LookupError):
    """No experiment has this id."""


@dataclass(frozen=True)
class Experiment:
    id: str
    name: str
    kind: Kind
    status: Literal["running", "stopped"]
    layer: str
    bucket_range: tuple[int, int]
    variants: tuple[Arm, ...]
    metrics: tuple[str, ...] = DEFAULT_METRICS
    guardrails: tuple[str, ...] = DEFAULT_GUARDRAILS
    window_days: int = 14
    pre_days: int = 28
    method: Method = "sequential"
    alpha: float = 0.05
    planned_units: int | None = None
    policy: Policy | None = None
    reward: RewardKind = "bernoulli"
    features: tuple[str, ...] = ()
    exposure_event: str | None = None
    description: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    stopped_at: datetime | None = None
    stop_reason: str | None = None
    state: dict[str, Any] | None = None

    @property
    def traffic(self) -> float:
        return (self.bucket_range[1] - self.bucket_range[0]) / BUCKETS

    @property
    def running(self) -> bool:
        return self.status == "running"

    def config(self) -> dict[str, Any]:
        return {
            "variants": [{"name": v.name, "weight": v.weight} for v in self.variants],
            "metrics": list(self.metrics),
            "guardrails": list(self.guardrails),
            "window_days": self.window_days,
            "pre_days": self.pre_days,
            "method": self.method,
            "alpha": self.alpha,
            "planned_units": self.planned_units,
            "policy": self.policy,
            "reward": self.reward,
            "features": list(self.features),
            "exposure_event": self.exposure_event,
            "description": self.description,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "layer": self.layer,
            "traffic": self.traffic,
            "buckets": list(self.bucket_range),
            **self.config(),
            "started_at": self.started_at.isoformat(),
            "stopped_at": self.stopped_at.isoformat() if self.stopped_at else None,
            "stop_reason": self.stop_reason,
        }


def _number(doc: Mapping[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{key}: must be a number, got {value!r}")
    if not low <= float(value) <= high:
        raise InvalidInputError(f"{key}: must be in [{low}, {high}], got {value}")
    return float(value)


def _names(doc: Mapping[str, Any], key: str, default: Sequence[str]) -> tuple[str, ...]:
    value = doc.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(f"{key}: must be a list of names")
    unknown = sorted(set(value) - set(METRICS))
    if unknown:
        raise InvalidInputError(f"{key}: unknown metric {unknown[0]!r}; known: {list(METRICS)}")
    return tuple(dict.fromkeys(value))


def _variants(doc: Mapping[str, Any]) -> tuple[Arm, ...]:
    raw = doc.get("variants")
    if not isinstance(raw, list):
        raise InvalidInputError("variants: a list of names or {name, weight} objects is required")
    arms: list[Arm] = []
    for item in raw:
        if isinstance(item, str):
            arms.append(Arm(item.strip(), 1.0))
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
            weight = item.get("weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, (int, float)):
                raise InvalidInputError(f"variants: weight of {item['name']!r} must be a number")
            arms.append(Arm(item["name"].strip(), float(weight)))
        else:
            raise InvalidInputError(f"variants: cannot read {item!r}")
    check_arms(arms)
    return tuple(arms)


def parse_definition(doc: Mapping[str, Any]) -> tuple[Experiment, float]:
    """An experiment (not yet placed in its layer) and its traffic share, from a JSON document.

    The first variant is the control: every readout compares the others with it.
    """
    unknown = sorted(set(doc) - _FIELDS)
    if unknown:
        raise InvalidInputError(f"{unknown[0]}: unknown field; known: {sorted(_FIELDS)}")
    exp_id = doc.get("id")
    if not isinstance(exp_id, str) or not _ID.match(exp_id):
        raise InvalidInputError(
            "id: 1-64 characters of a-z, 0-9, '_', '-', '.', starting with a letter or digit"
        )
    kind = doc.get("kind", "ab")
    if kind not in ("ab", "bandit"):
        raise InvalidInputError(f"kind: must be 'ab' or 'bandit', got {kind!r}")
    policy = doc.get("policy")
    if kind == "bandit":
        policy = policy or "thompson"
        if policy not in ("thompson", "top_two", "linear_thompson"):
            raise InvalidInputError(
                f"policy: must be thompson, top_two or linear_thompson, got {policy!r}"
            )
    elif policy is not None:
        raise InvalidInputError("policy: only bandits have a policy")
    reward = doc.get("reward", "bernoulli")
    if reward not in ("bernoulli", "gaussian"):
        raise InvalidInputError(f"reward: must be 'bernoulli' or 'gaussian', got {reward!r}")
    features = doc.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) and f for f in features):
        raise InvalidInputError("features: must be a list of context feature names")
    if policy == "linear_thompson" and not features:
        raise InvalidInputError("features: a linear_thompson bandit needs context features")
    method = doc.get("method", "sequential")
    if method not in ("frequentist", "sequential", "bayesian"):
        raise InvalidInputError(
            f"method: must be frequentist, sequential or bayesian, got {method!r}"
        )
    layer = doc.get("layer", "default")
    if not isinstance(layer, str) or not _ID.match(layer):
        raise InvalidInputError("layer: a short name of a-z, 0-9, '_', '-', '.'")
    planned = doc.get("planned_units")
    if planned is not None and (isinstance(planned, bool) or not isinstance(planned, int)):
        raise InvalidInputError(f"planned_units: must be a whole number, got {planned!r}")
    if planned is not None and planned < 2:
        raise InvalidInputError(f"planned_units: must be >= 2, got {planned}")
    name = doc.get("name", exp_id)
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError("name: must be a non-empty string")
    metrics = _names(doc, "metrics", DEFAULT_METRICS)
    if not metrics:
        raise InvalidInputError("metrics: at least one metric is required")
    exposure_event = doc.get("exposure_event")
    if exposure_event is not None and not isinstance(exposure_event, str):
        raise InvalidInputError("exposure_event: must be an event name")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise InvalidInputError("description: must be a string")
    traffic = _number(doc, "traffic", 1.0, 0.0001, 1.0)
    experiment = Experiment(
        id=exp_id,
        name=name.strip(),
        kind=kind,
        status="running",
        layer=layer,
        bucket_range=(0, 0),
        variants=_variants(doc),
        metrics=metrics,
        guardrails=_names(doc, "guardrails", DEFAULT_GUARDRAILS if kind == "ab" else ()),
        window_days=int(_number(doc, "window_days", 14, 1, 365)),
        pre_days=int(_number(doc, "pre_days", 28, 0, 365)),
        method=method,
        alpha=_number(doc, "alpha", 0.05, 0.0001, 0.5),
        planned_units=planned,
        policy=policy,
        reward=reward,
        features=tuple(features),
        exposure_event=exposure_event,
        description=description,
    )
    return experiment, traffic


_FIELDS = {
    "id",
    "name",
    "kind",
    "variants",
    "traffic",
    "layer",
    "metrics",
    "guardrails",
    "window_days",
    "pre_days",
    "method",
    "alpha",
    "planned_units",
    "policy",
    "reward",
    "features",
    "exposure_event",
    "description",
    "started_at",
}

_COLUMNS = (
    "id, name, kind, status, layer, bucket_start, bucket_end, config, state, "
    "started_at, stopped_at, stop_reason"
)


def _from_row(row: Sequence[Any]) -> Experiment:
    (exp_id, name, kind, status, layer, start, end, config, state, started, stopped, why) = row
    doc = orjson.loads(config)
    return Experiment(
        id=exp_id,
        name=name,
        kind=kind,
        status=status,
        layer=layer,
        bucket_range=(int(start), int(end)),
        variants=tuple(Arm(v["name"], float(v["weight"])) for v in doc["variants"]),
        metrics=tuple(doc["metrics"]),
        guardrails=tuple(doc["guardrails"]),
        window_days=int(doc["window_days"]),
        pre_days=int(doc["pre_days"]),
        method=doc["method"],
        alpha=float(doc["alpha"]),
        planned_units=doc.get("planned_units"),
        policy=doc.get("policy"),
        reward=doc.get("reward", "bernoulli"),
        features=tuple(doc.get("features", ())),
        exposure_event=doc.get("exposure_event"),
        description=doc.get("description", ""),
        started_at=started,
        stopped_at=stopped,
        stop_reason=why,
        state=orjson.loads(state) if state else None,
    )


def create(store: Store, doc: Mapping[str, Any]) -> Experiment:
    """Validate, place in the layer's first free bucket range, and store a new experiment."""
    experiment, traffic = parse_definition(doc)
    started = doc.get("started_at")
    if started is not None:
        try:
            when = datetime.fromisoformat(str(started))
        except ValueError as bad:
            raise InvalidInputError(f"started_at: not an ISO-8601 time: {started!r}") from bad
        experiment = replace(
            experiment, started_at=when if when.tzinfo else when.replace(tzinfo=UTC)
        )
    with store.transaction():
        if store.query("SELECT 1 FROM experiments WHERE id = ?", [experiment.id]):
            raise InvalidInputError(f"id: an experiment {experiment.id!r} already exists")
        taken = [
            (int(s), int(e))
            for s, e in store.query(
                "SELECT bucket_start, bucket_end FROM experiments "
                "WHERE layer = ? AND status = 'running'",
                [experiment.layer],
            )
        ]
        width = max(1, round(traffic * BUCKETS))
        experiment = replace(experiment, bucket_range=allocate(width, taken, experiment.layer))
        store.execute(
            f"INSERT INTO experiments ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                experiment.id,
                experiment.name,
                experiment.kind,
                experiment.status,
                experiment.layer,
                experiment.bucket_range[0],
                experiment.bucket_range[1],
                orjson.dumps(experiment.config()).decode(),
                None,
                experiment.started_at,
                None,
                None,
            ],
        )
    return experiment


def get(store: Store, experiment_id: str) -> Experiment:
    rows = store.query(f"SELECT {_COLUMNS} FROM experiments WHERE id = ?", [experiment_id])
    if not rows:
        raise UnknownExperimentError(f"no experiment {experiment_id!r}")
    return _from_row(rows[0])


def list_all(store: Store, status: str | None = None) -> list[Experiment]:
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    rows = store.query(
        f"SELECT {_COLUMNS} FROM experiments {where} ORDER BY started_at, id", params
    )
    return [_from_row(r) for r in rows]


def stop(store: Store, experiment_id: str, reason: str = "") -> Experiment:
    """Stop assigning (callers fall back to their default); the data stays for readouts."""
    experiment = get(store, experiment_id)
    if not experiment.running:
        raise InvalidInputError(f"id: experiment {experiment_id!r} is already stopped")
    now = datetime.now(UTC)
    store.execute(
        "UPDATE experiments SET status = 'stopped', stopped_at = ?, stop_reason = ? WHERE id = ?",
        [now, reason or None, experiment_id],
    )
    return replace(experiment, status="stopped", stopped_at=now, stop_reason=reason or None)


def save_state(store: Store, experiment_id: str, state: Mapping[str, Any]) -> None:
    store.execute(
        "UPDATE experiments SET state = ? WHERE id = ?",
        [orjson.dumps(state, option=orjson.OPT_SERIALIZE_NUMPY).decode(), experiment_id],
    )


HOLDOUT = "global_holdout"


def holdout_share(store: Store) -> float:
    rows = store.query("SELECT value FROM experiment_settings WHERE name = ?", [HOLDOUT])
    return float(rows[0][0]) if rows else 0.0


def set_holdout(store: Store, share: float) -> float:
    """Changing the holdout re-shuffles who is held out: do it before experiments start."""
    if not 0.0 <= share < 0.5:
        raise InvalidInputError(f"share: the global holdout must be in [0, 0.5), got {share}")
    with store.transaction():
        store.execute("DELETE FROM experiment_settings WHERE name = ?", [HOLDOUT])
        store.execute(
            "INSERT INTO experiment_settings (name, value) VALUES (?, ?)", [HOLDOUT, repr(share)]
        )
    return share
