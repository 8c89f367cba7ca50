"""Marketing touches: e-mail sends/opens/clicks, direct mail, social, the experiment.

Sends go to registered, opted-in people whether or not they still buy, which is how
marketing ends up costing money on people who never (or no longer) buy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from clientcore.demo.config import HOUR_MS, MINUTE_MS, Params
from clientcore.demo.events import launched_only, pick_surface, sample_views
from clientcore.demo.sessions import Block, online_session
from clientcore.demo.timeline import Outcomes
from clientcore.demo.world import Campaign

SOCIAL_PLATFORMS = ("instagram", "facebook", "x", "tiktok")


def emit_marketing(b: Block, rng: np.random.Generator, outcomes: Outcomes, params: Params) -> None:
    """All marketing events of a block, with their cost added to each person's P&L."""
    people = b.people
    n = people.n
    signup = people.signup_ms
    unsub = people.unsub_ms
    dropout = outcomes.dropout_ms
    for c in b.world.email_campaigns:
        reachable = people.email_optin & (signup >= 0) & (signup < c.send_ms)
        reachable &= (unsub < 0) | (unsub > c.send_ms)
        targeted = reachable & (rng.random(n) < c.target_share)
        engaged = np.where((dropout >= 0) & (dropout < c.send_ms), 0.35, 1.0)
        engaged = np.where(people.buyer, engaged, 0.5)
        opened = targeted & (rng.random(n) < people.open_prob * engaged)
        clicked = opened & (rng.random(n) < people.click_prob)
        _email(b, rng, c, targeted, opened, clicked)

    for i in np.flatnonzero(unsub >= 0).tolist():
        t = int(unsub[i])
        ctx = _email_context(b, i, t)
        props = {"list_id": "newsletter", "reason": "too_many_emails"}
        b.out.track(i, t, "Unsubscribed", b.user_id[i], None, ctx, props)

    _experiment(b, outcomes, params)
    for c in b.world.mail_campaigns:
        store_pref = people.chan_w[:, 2] > 0.1
        targeted = (signup >= 0) & (signup < c.send_ms) & (store_pref | (rng.random(n) < 0.3))
        targeted &= rng.random(n) < c.target_share
        for i in np.flatnonzero(targeted).tolist():
            props = {"campaign_id": c.campaign_id, "campaign_name": c.name, "format": "postcard"}
            ctx = {"channel": "other"}
            b.out.track(i, c.send_ms, "Direct Mail Sent", b.user_id[i], None, ctx, props)
            b.marketing_cost[i] += params.cost_direct_mail
    for c in b.world.social_campaigns:
        targeted = (signup >= 0) & (signup < c.send_ms) & (rng.random(n) < c.target_share)
        for i in np.flatnonzero(targeted).tolist():
            t = c.send_ms + int(b.r.random() * 48 * HOUR_MS)
            props = {
                "campaign_id": c.campaign_id,
                "platform": SOCIAL_PLATFORMS[int(b.r.random() * len(SOCIAL_PLATFORMS))],
                "direction": "outbound",
            }
            b.out.track(i, t, "Social Message", b.user_id[i], None, {"channel": "social"}, props)
            b.marketing_cost[i] += params.cost_social_message


def _email_context(b: Block, i: int, t: int) -> dict[str, Any]:
    """E-mail events are keyed by userId and carry the address the ESP sent to."""
    return {"channel": "email", "traits": {"email": b.people.email_at(i, t)}}


def _email(
    b: Block,
    rng: np.random.Generator,
    c: Campaign,
    targeted: np.ndarray,
    opened: np.ndarray,
    clicked: np.ndarray,
) -> None:
    """One campaign: sends, opens, clicks, and the web visit a click leads to."""
    out, r = b.out, b.r
    who = np.flatnonzero(targeted)
    click_views = sample_views(rng, b, who, np.where(clicked[who], 2, 0))
    props = {"campaign_id": c.campaign_id, "campaign_name": c.name, "email_subject": c.name}
    cost = b.params.cost_email
    for k, i in enumerate(who.tolist()):
        t = c.send_ms + int(r.random() * 20 * MINUTE_MS)
        uid = b.user_id[i]
        ctx = _email_context(b, i, t)
        out.track(i, t, "Email Sent", uid, None, ctx, props)
        b.marketing_cost[i] += cost
        if not opened[i]:
            continue
        t_open = t + int(r.expovariate(1.0 / 5.0) * HOUR_MS) + 30_000
        out.track(i, t_open, "Email Opened", uid, None, ctx, props)
        if not clicked[i]:
            continue
        t_click = t_open + int(r.random() * 10 * MINUTE_MS) + 5_000
        out.track(i, t_click, "Email Clicked", uid, None, ctx, props)
        campaign = {"name": c.campaign_id, "source": "newsletter", "medium": "email"}
        t_visit = t_click + 4 * MINUTE_MS
        surface = pick_surface(b, i, t_visit, campaign, prefer_app=False)
        views = launched_only(b, click_views[k], t_visit)
        online_session(b, i, t_visit, surface, views, force_login=r.random() < 0.5)


def _experiment(b: Block, outcomes: Outcomes, params: Params) -> None:
    """Experiment Viewed for everyone randomized; the treatment also gets the coupon e-mail."""
    exp = params.experiment
    start = params.experiment_start_ms
    variants = ("control", "treatment")
    for i in np.flatnonzero(outcomes.variant >= 0).tolist():
        v = int(outcomes.variant[i])
        uid = b.user_id[i]
        ctx = _email_context(b, i, start)
        props = {
            "experiment_id": exp["experiment_id"],
            "experiment_name": exp["experiment_name"],
            "variation_id": f"{exp['experiment_id']}_{variants[v]}",
            "variation_name": variants[v],
        }
        t = start + int(b.r.random() * 3 * HOUR_MS)
        b.out.track(i, t, "Experiment Viewed", uid, None, ctx, props)
        if v == 1:
            mail = {
                "campaign_id": exp["experiment_id"],
                "campaign_name": exp["experiment_name"],
                "email_subject": "15% off, just for you",
                "coupon": "WINBACK15",
            }
            b.out.track(i, t + 60_000, "Email Sent", uid, None, ctx, mail)
            b.marketing_cost[i] += params.cost_email
