"""The personal shopper's chapter of `clientcore demo`: train on the demo retailer, show one
best customer's list with its reasons, then let her look at a few products in a new visit —
collected like any event — and show how the next answer changes at once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
from rich.console import Console
from rich.rule import Rule

from clientcore.clisupport import with_progress
from clientcore.collect.ingest import commit, prepare
from clientcore.personalize.cli import render_list
from clientcore.personalize.model import models_dir
from clientcore.personalize.service import RecommendationService
from clientcore.personalize.train import train
from clientcore.store import Store

TOUR_CASES = 500  # training cases per kind: enough for the demo, a few seconds

_SHOPPER = """
SELECT i.profile_id, count(DISTINCT e.seq) AS orders
FROM events e JOIN event_identifiers ei ON ei.seq = e.seq
JOIN identifiers i ON i.id = ei.identifier_id
WHERE e.event = 'Order Completed' AND i.profile_id IS NOT NULL AND NOT i.quarantined
  AND i.profile_id IN (SELECT profile_id FROM identifiers WHERE type = 'user_id')
GROUP BY 1 ORDER BY orders DESC, 1 LIMIT 1
"""


def recommendations_chapter(
    store: Store, data_dir: Path, console: Console, chapter: int = 6
) -> None:
    console.print(Rule(f"{chapter}. The personal shopper: what to show her next"))
    root = models_dir(store.url)
    report = with_progress(
        "training recommendations",
        False,
        lambda progress: train(
            store, root, data_dir / "catalog.csv", max_cases=TOUR_CASES, progress=progress
        ),
    )
    console.print(
        f"model {report.version}: co-occurrence, ALS, session-kNN, popularity, buy-again and "
        f"attributes merged by a LightGBM ranker, trained on {report.interactions:,} product "
        f"interactions in {report.seconds:.1f}s → {report.path}"
    )
    rows = store.query(_SHOPPER)
    if not rows:
        return
    profile_id = int(rows[0][0])
    user = store.query(
        "SELECT value FROM identifiers WHERE profile_id = ? AND type = 'user_id' LIMIT 1",
        [profile_id],
    )[0][0]
    service = RecommendationService(store, root)
    try:
        service.load_current()
        model = service.model
        at = datetime.fromtimestamp(model.models.now, UTC) + timedelta(minutes=10)
        before = service.recommend(user, None, "web", 8, None, at)
        render_list(before, f"for {user} (profile {profile_id}), from her history on every channel")
        visitor = str(uuid.uuid4())
        viewed = _browse(store, model.catalog, model.history.rows(profile_id)[0], user, visitor, at)
        names = ", ".join(str(model.catalog.name[i]) for i in viewed)
        console.print(f"…she opens the site and looks at {names} ({len(viewed)} events collected)")
        after = service.recommend(user, visitor, "web", 8, None, at + timedelta(minutes=4))
        render_list(after, "the next answer, history blended with this visit")
        changed = len(
            {i["product_id"] for i in after["items"]} - {i["product_id"] for i in before["items"]}
        )
        console.print(
            f"{changed} of 8 products changed. The same list over HTTP: "
            f"GET /v1/recommendations?profile={user}&session={visitor} (read key); offline "
            "figures: clientcore recommend evaluate; channel exports: clientcore recommend "
            "export --channel email --out email.ndjson"
        )
    finally:
        service.close()


def _browse(
    store: Store, catalog: object, history: np.ndarray, user: str, visitor: str, at: datetime
) -> list[int]:
    """Four popular products of a category she has not shopped, viewed in a new visit."""
    from clientcore.personalize.catalog import Catalog

    assert isinstance(catalog, Catalog)
    shopped = set(catalog.category[history].tolist())
    fresh = [c for c in range(catalog.n_categories) if c not in shopped] or [0]
    category = fresh[0]
    items = np.flatnonzero((catalog.category == category) & catalog.in_stock)[:4].tolist()
    raws: list[bytes | None] = []
    for n, item in enumerate(items):
        product = catalog.describe(item)
        raws.append(
            orjson.dumps(
                {
                    "type": "track",
                    "event": "Product Viewed",
                    "userId": user,
                    "anonymousId": visitor,
                    "messageId": str(uuid.uuid4()),
                    "timestamp": (at + timedelta(minutes=n + 1)).isoformat(),
                    "context": {"channel": "web"},
                    "properties": product,
                }
            )
        )
    commit(store, [prepare(raws, "demo-tour", "tour")])
    return items
