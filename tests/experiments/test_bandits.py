"""Bandits: propensities are probabilities, state round-trips, policies learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clientcore.experiments.bandits import (
    BernoulliThompson,
    GaussianThompson,
    TopTwoThompson,
    glr_statistic,
    glr_threshold,
)
from clientcore.experiments.bayesian import prob_beta_greater
from clientcore.experiments.contextual import ContextEncoder, LinearThompson
from clientcore.experiments.errors import BanditStateError, InvalidInputError
from clientcore.experiments.policy_base import prob_best_quadrature

counts = st.lists(st.integers(min_value=0, max_value=200), min_size=2, max_size=6)


@settings(max_examples=40, deadline=None)
@given(
    counts,
    st.integers(min_value=0, max_value=2**31),
    st.sampled_from(["plain", "transportation", "resample"]),
)
def test_propensities_sum_to_one(ns: list[int], seed: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    bern = BernoulliThompson(len(ns), draws=300, seed=seed)
    bern.counts = np.asarray(ns, dtype=float)
    bern.successes = rng.binomial(ns, 0.3).astype(float)
    policy = bern if kind == "plain" else TopTwoThompson(bern, challenger=kind)  # type: ignore[arg-type]
    p = policy.propensities()
    assert p.sum() == pytest.approx(1.0)
    assert np.all(p >= 0)
    d = policy.select()
    assert d.propensity == pytest.approx(d.propensities[d.index])
    assert sum(d.propensities) == pytest.approx(1.0)


def test_monte_carlo_propensity_matches_exact_two_arm_probability() -> None:
    bt = BernoulliThompson(["a", "b"], draws=200_000, seed=1)
    for arm, s, n in (("a", 30, 400), ("b", 38, 400)):
        bt.successes[bt.index(arm)], bt.counts[bt.index(arm)] = s, n
    exact = prob_beta_greater(1 + 38, 1 + 362, 1 + 30, 1 + 370)
    assert bt.propensities()[1] == pytest.approx(exact, abs=0.005)


def test_quadrature_prob_best_matches_monte_carlo() -> None:
    bt = BernoulliThompson(4, draws=200_000, seed=3)
    bt.successes[:], bt.counts[:] = [30, 36, 12, 33], [300, 310, 200, 290]
    exact = prob_best_quadrature(bt.marginals())
    np.testing.assert_allclose(exact, bt.propensities(), atol=0.005)
    g = GaussianThompson(3, draws=200_000, seed=3)
    for i, mean in enumerate([1.0, 1.1, 0.7]):
        for v in np.random.default_rng(i).normal(mean, 1.0, 40):
            g.update(i, float(v))
    np.testing.assert_allclose(prob_best_quadrature(g.marginals()), g.propensities(), atol=0.005)


def test_top_two_propensities_by_formula() -> None:
    bt = BernoulliThompson(["a", "b", "c"])
    bt.successes[:], bt.counts[:] = [50, 45, 20], [200, 200, 200]
    a = prob_best_quadrature(bt.marginals())
    russo = TopTwoThompson(bt, challenger="resample").propensities()
    expect = 0.5 * a + 0.5 * a * sum(a[j] / (1 - a[j]) * (np.arange(3) != j) for j in range(3))
    np.testing.assert_allclose(russo, expect, rtol=1e-9)
    t3c = TopTwoThompson(
        bt, challenger="transportation"
    ).propensities()  # leader a -> challenger b, leader b -> a, c -> a
    np.testing.assert_allclose(
        t3c, [0.5 * a[0] + 0.5 * (a[1] + a[2]), 0.5 * a[1] + 0.5 * a[0], 0.5 * a[2]]
    )


def test_state_round_trip_reproduces_next_decision() -> None:
    bt = GaussianThompson(["x", "y", "z"], seed=5, draws=500)
    rng = np.random.default_rng(0)
    for _ in range(30):
        d = bt.select()
        bt.update(d.arm, float(rng.normal([1.0, 1.2, 0.8][d.index], 1.0)))
    restored = GaussianThompson.from_dict(json.loads(json.dumps(bt.to_dict())))
    assert restored.select() == bt.select()
    tt = TopTwoThompson(BernoulliThompson(4, seed=9))
    tt.update(2, 1.0)
    again = TopTwoThompson.from_dict(json.loads(json.dumps(tt.to_dict())))
    assert again.select() == tt.select()


def test_bad_arms_and_states_raise_package_errors() -> None:
    bt = BernoulliThompson(["a", "b"])
    with pytest.raises(BanditStateError, match="unknown arm"):
        bt.update("c", 1.0)
    with pytest.raises(InvalidInputError):
        bt.update("a", 2.0)
    with pytest.raises(BanditStateError):
        GaussianThompson.from_dict(bt.to_dict())
    with pytest.raises(BanditStateError):
        BernoulliThompson.from_dict({**bt.to_dict(), "counts": [1.0]})


def test_thompson_concentrates_on_best_arm() -> None:
    rng = np.random.default_rng(3)
    truth = np.array([0.05, 0.15, 0.08])
    bt = BernoulliThompson(3, draws=200, seed=3)
    for _ in range(600):
        d = bt.select()
        bt.update(d.index, float(rng.random() < truth[d.index]))
    assert np.argmax(bt.counts) == 1
    assert bt.propensities()[1] > 0.8


def test_top_two_keeps_sampling_the_challenger() -> None:
    bt = BernoulliThompson(["best", "close", "bad"], draws=4000, seed=2)
    bt.successes[:] = [600, 560, 100]
    bt.counts[:] = [1000, 1000, 1000]
    p_ts = bt.propensities()
    for challenger in ("transportation", "resample"):
        p_tt = TopTwoThompson(bt, challenger=challenger).propensities()
        assert p_tt[1] > p_ts[1]  # exploration shifts to the challenger
        assert p_tt[0] >= 0.5 - 0.02  # leader keeps about beta of the traffic


def test_glr_statistic_gaussian_by_hand_and_stopping() -> None:
    best, z = glr_statistic([10.0, 30.0, 20.0], [10, 10, 10], family="gaussian", variance=4.0)
    assert best == 1
    assert z == pytest.approx((3.0 - 2.0) ** 2 / (2 * (0.4 + 0.4)))
    assert float(glr_threshold(1000, 0.05, 5)) == pytest.approx(np.log(2 * 1000 * 4 / 0.05))
    tt = TopTwoThompson(BernoulliThompson(["a", "b"], seed=1))
    tt.model.successes[:], tt.model.counts[:] = [100, 300], [1000, 1000]
    status = tt.stop_status(0.05)
    assert status.stop
    assert status.best_arm == "b"
    tt.model.successes[:] = [300, 301]
    assert not tt.stop_status(0.05).stop
    assert not tt.stop_status(0.05, rule="posterior").stop


def test_linear_thompson_learns_context_dependent_best_arm() -> None:
    enc = ContextEncoder({"tier": ["low", "high"], "channel": ["email", "sms"]})
    lin = LinearThompson(["discount", "content"], enc.dim, encoder=enc, draws=300, seed=4)
    rng = np.random.default_rng(4)
    for _ in range(500):
        ctx = {"tier": rng.choice(["low", "high"]), "channel": rng.choice(["email", "sms"])}
        d = lin.select(ctx)
        mean = 0.6 if (ctx["tier"] == "low") == (d.arm == "discount") else 0.2
        lin.update(d.arm, float(rng.random() < mean), ctx)
    assert lin.propensities({"tier": "low", "channel": "sms"})[0] > 0.8
    assert lin.propensities({"tier": "high", "channel": "email"})[1] > 0.8
    restored = LinearThompson.from_dict(json.loads(json.dumps(lin.to_dict())))
    ctx = {"tier": "high", "channel": "new-channel"}  # unknown level -> zeros, no crash
    assert restored.select(ctx) == lin.select(ctx)
    with pytest.raises(BanditStateError):
        lin.select(np.ones(3))
