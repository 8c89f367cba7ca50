"""One customer's value: their P&L line by line (with the events behind each line) and CLV.

Shared by `clientcore value customer` and `GET /v1/profiles/{identifier}/value`. The CLV fit
needs the whole customer base, so a fitted model is kept per (database, event count, period
end, cost model) for the life of the process: a server pays for it once, not per request.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import numpy as np

from clientcore.identity.spec import load_spec
from clientcore.profiles.lookup import find_profile
from clientcore.store import Store
from clientcore.value.costs import CostModel
from clientcore.value.pnl import compute, customer_breakdown
from clientcore.value.predict import Predictions, predict
from clientcore.value.report import as_of_date, display_names, order_margin
from clientcore.value.sql import ANONYMOUS_TYPES, Period

_CACHE: dict[tuple[Any, ...], Predictions] = {}
_LOCK = threading.Lock()
_CACHE_SIZE = 4


class UnknownCustomerError(LookupError):
    """No profile holds the identifier."""


def resolve_profile(store: Store, identifier: str) -> int:
    """The profile behind anything a person types (e-mail, phone, ids), or raise."""
    spec = load_spec()
    profile_id = find_profile(store, identifier, spec.default_region, spec)
    if profile_id is None:
        raise UnknownCustomerError(f"no profile has the identifier {identifier!r}")
    return profile_id


def population_model(store: Store, costs: CostModel, period: Period) -> Predictions:
    """The CLV fit for the whole customer base at the period's end, cached."""
    as_of = as_of_date(store, period)
    stamp = store.query("SELECT COUNT(*), MAX(seq) FROM events")[0]
    links = store.query("SELECT COUNT(*), MAX(profile_id) FROM identifiers")[0]
    key = (store.url, *stamp, *links, as_of, costs.model_dump_json())
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    margin = order_margin(compute(store, costs, Period(period.start, as_of)))
    model = predict(store, costs, as_of, margin, holdout_weeks=0)
    with _LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = model
    return model


def customer_value(
    store: Store,
    costs: CostModel,
    profile_id: int,
    period: Period | None = None,
    with_clv: bool = True,
) -> dict[str, Any]:
    """The document: who, the statement, the traceable lines, and the prediction."""
    period = period or Period()
    breakdown = customer_breakdown(store, costs, profile_id, period)
    doc: dict[str, Any] = {
        "profile_id": profile_id,
        "identifier": display_names(store, [profile_id]).get(profile_id, str(profile_id)),
        "currency": costs.currency,
        "period": {
            "start": period.start.isoformat() if period.start else None,
            "end": period.end.isoformat() if period.end else None,
        },
        **breakdown.to_dict(),
    }
    if not is_customer(store, profile_id):
        doc["note"] = (
            "this profile holds only anonymous identifiers (cookies, devices): its events count "
            "as unattributed, not as a customer's"
        )
    doc["clv"] = _clv(store, costs, profile_id, period) if with_clv else None
    return doc


def is_customer(store: Store, profile_id: int) -> bool:
    """A profile with at least one identifier that names a person (not only cookies)."""
    marks = ", ".join("?" for _ in ANONYMOUS_TYPES)
    rows = store.query(
        "SELECT COUNT(*) FROM identifiers WHERE profile_id = ? AND NOT quarantined "
        f"AND type NOT IN ({marks})",
        [profile_id, *ANONYMOUS_TYPES],
    )
    return bool(rows[0][0])


def _clv(store: Store, costs: CostModel, profile_id: int, period: Period) -> dict[str, Any]:
    model = population_model(store, costs, period)
    if not model.fitted:
        return {"fitted": False, "error": model.error}
    hit = np.flatnonzero(model.profile_id == profile_id)
    base = {"fitted": True, "horizon_weeks": 52, "margin": model.model.get("margin")}
    if hit.size == 0:
        return {**base, "p_alive": None, "clv": None, "expected_purchases": None,
                "note": "no order before the end of the period"}  # fmt: skip
    k = int(hit[0])
    return {
        **base,
        "p_alive": round(float(model.p_alive[k]), 4),
        "expected_purchases": round(float(model.expected_purchases[k]), 3),
        "clv": round(float(model.clv[k]), 2),
    }


def parse_when(value: str | None, option: str) -> dt.datetime | None:
    """An ISO date or time as an aware UTC datetime (a bare date is its midnight)."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{option}: {value!r} is not an ISO date (YYYY-MM-DD)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
