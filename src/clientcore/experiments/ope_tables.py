"""Turn logged-decision and target-policy Arrow tables into validated numpy arrays.

Every problem raises :class:`OpeInputError` naming the column, so the CLI can print one
actionable line instead of a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from clientcore.experiments.errors import OpeInputError

LOG_COLUMNS = ("round_id", "action", "reward", "propensity")
POLICY_COLUMNS = ("round_id", "action", "probability")
SUM_TOLERANCE = 1e-4


@dataclass(frozen=True, slots=True)
class OpeArrays:
    """Rows are logged (round, position) decisions; ``target`` has one column per action."""

    round_index: NDArray[np.int64]
    position_index: NDArray[np.int64]
    action_index: NDArray[np.int64]
    reward: NDArray[np.float64]
    pscore: NDArray[np.float64]
    target: NDArray[np.float64]
    features: NDArray[np.float64] | None
    actions: tuple[str, ...]
    positions: tuple[str, ...]
    feature_names: tuple[str, ...]


def _require(table: pa.Table, columns: tuple[str, ...], which: str) -> None:
    for col in columns:
        if col not in table.column_names:
            raise OpeInputError(col, f"missing from {which} (has: {', '.join(table.column_names)})")
        if table.column(col).null_count:
            raise OpeInputError(col, f"{table.column(col).null_count} null values in {which}")


def _numeric(table: pa.Table, col: str, which: str) -> NDArray[np.float64]:
    arr = table.column(col)
    if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type)):
        raise OpeInputError(col, f"must be numeric in {which}, found {arr.type}")
    out = arr.to_numpy().astype(float)
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise OpeInputError(col, f"non-finite value in {which} at row {bad[0]}")
    return out


def _keys(table: pa.Table, col: str) -> NDArray[np.str_]:
    return np.asarray(table.column(col).cast(pa.string()).to_numpy(zero_copy_only=False), dtype=str)


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t))


def _features(logs: pa.Table, extra: list[str]) -> tuple[NDArray[np.float64] | None, list[str]]:
    blocks, names = [], []
    for col in extra:
        arr = logs.column(col)
        if arr.null_count:
            raise OpeInputError(col, f"{arr.null_count} null values in a context feature")
        if pa.types.is_boolean(arr.type) or pa.types.is_integer(arr.type):
            blocks.append(arr.to_numpy(zero_copy_only=False).astype(float)[:, None])
            names.append(col)
        elif pa.types.is_floating(arr.type):
            vals = arr.to_numpy(zero_copy_only=False).astype(float)
            if not np.all(np.isfinite(vals)):
                raise OpeInputError(col, "non-finite values in a context feature")
            blocks.append(vals[:, None])
            names.append(col)
        elif _is_text(arr.type):
            vals = _keys(logs, col)
            levels = np.unique(vals)
            blocks.append((vals[:, None] == levels[None, :]).astype(float))
            names += [f"{col}={lv}" for lv in levels]
        else:
            raise OpeInputError(col, f"unsupported feature type {arr.type}; use numbers or strings")
    if not blocks:
        return None, []
    return np.hstack(blocks), names


def parse_tables(logs: pa.Table, policy: pa.Table) -> OpeArrays:
    """Validate both tables and align the target probabilities to the logged rows."""
    _require(logs, LOG_COLUMNS, "logs")
    _require(policy, POLICY_COLUMNS, "policy")
    if logs.num_rows == 0:
        raise OpeInputError("round_id", "logs table is empty")
    has_pos = "position" in logs.column_names
    if has_pos != ("position" in policy.column_names):
        raise OpeInputError("position", "must be present in both logs and policy, or in neither")
    reward = _numeric(logs, "reward", "logs")
    pscore = _numeric(logs, "propensity", "logs")
    bad = np.flatnonzero((pscore <= 0) | (pscore > 1))
    if bad.size:
        raise OpeInputError(
            "propensity", f"must be in (0, 1]; found {pscore[bad[0]]} at row {bad[0]}"
        )
    prob = _numeric(policy, "probability", "policy")
    bad = np.flatnonzero((prob < 0) | (prob > 1 + 1e-9))
    if bad.size:
        raise OpeInputError(
            "probability", f"must be in [0, 1]; found {prob[bad[0]]} at row {bad[0]}"
        )

    log_round, pol_round = _keys(logs, "round_id"), _keys(policy, "round_id")
    if has_pos:
        _require(logs, ("position",), "logs")
        _require(policy, ("position",), "policy")
        log_pos, pol_pos = _keys(logs, "position"), _keys(policy, "position")
    else:
        log_pos = np.zeros(logs.num_rows, dtype=str)
        pol_pos = np.zeros(policy.num_rows, dtype=str)
    log_act, pol_act = _keys(logs, "action"), _keys(policy, "action")

    actions = np.unique(np.concatenate([log_act, pol_act]))
    positions = np.unique(log_pos)
    slot = np.char.add(np.char.add(log_round, "\x1f"), log_pos)
    uniq_slot, first = np.unique(slot, return_index=True)
    if uniq_slot.size != slot.size:
        dup = slot[np.setdiff1d(np.arange(slot.size), first)[0]].split("\x1f")[0]
        what = "(round_id, position)" if has_pos else "round_id"
        raise OpeInputError("round_id", f"duplicate {what} in logs, e.g. round {dup!r}")

    pol_slot = np.char.add(np.char.add(pol_round, "\x1f"), pol_pos)
    row_of = np.searchsorted(uniq_slot, pol_slot)
    row_of = np.clip(row_of, 0, uniq_slot.size - 1)
    known = uniq_slot[row_of] == pol_slot  # policy rows for rounds that were not logged: ignored
    order_to_row = first  # uniq_slot[j] is logged row first[j]
    target = np.zeros((logs.num_rows, actions.size))
    act_idx = np.searchsorted(actions, pol_act)
    np.add.at(target, (order_to_row[row_of[known]], act_idx[known]), prob[known])
    sums = target.sum(axis=1)
    missing = np.flatnonzero(sums == 0)
    if missing.size:
        raise OpeInputError(
            "round_id",
            f"{missing.size} logged decisions have no policy rows, "
            f"e.g. round {log_round[missing[0]]!r}",
        )
    off = np.flatnonzero(np.abs(sums - 1) > SUM_TOLERANCE)
    if off.size:
        raise OpeInputError(
            "probability",
            f"policy probabilities of round {log_round[off[0]]!r} sum to {sums[off[0]]:.6g}, not 1",
        )

    extra = [c for c in logs.column_names if c not in (*LOG_COLUMNS, "position")]
    features, names = _features(logs, extra)
    _, round_index = np.unique(log_round, return_inverse=True)
    return OpeArrays(
        round_index=round_index.astype(np.int64),
        position_index=np.searchsorted(positions, log_pos).astype(np.int64),
        action_index=np.searchsorted(actions, log_act).astype(np.int64),
        reward=reward,
        pscore=pscore,
        target=target / sums[:, None],
        features=features,
        actions=tuple(str(a) for a in actions),
        positions=tuple(str(p) for p in positions) if has_pos else (),
        feature_names=tuple(names),
    )
