"""Golden values: the published CDNOW estimates and holdout figures (2,357-customer sample).

Calibration 1997-01-01..1997-09-30 in weeks, one transaction per customer-day, holdout to
1998-06-30. Published figures: BG/NBD and Pareto/NBD from Fader, Hardie & Lee (2005,
Marketing Science), Gamma-Gamma from Fader, Hardie & Lee (2005, JMR "RFM and CLV"); the
conditional expectation 1.226 (x=2, t_x=30.43, T=38.86, 39 weeks) from Hardie's BG/NBD Excel
note. Actual holdout figures come from the data; the predicted ones by frequency bucket were
cross-checked against lifetimes 0.11.3 (its conditional expectations agree with ours to
1e-9). MBG/NBD has no CDNOW publication, so its estimates are lifetimes' as well.
"""

from __future__ import annotations

import numpy as np
import pytest

from clientcore.value.clv import models, summary
from clientcore.value.clv.diagnostics import (
    actual_cumulative_repeats,
    compare_models,
    expected_cumulative_repeats,
    holdout_report,
)
from clientcore.value.clv.summary import CustomerSummary, day_number

from .conftest import CAL_END, OBS_END

PUBLISHED = {
    "bgnbd": ({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, -9582.4),
    "pnbd": ({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}, -9595.0),
    "mbgnbd": ({"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}, -9582.1),
}


def test_summary_matches_the_papers_data(cdnow_summary: CustomerSummary) -> None:
    s = cdnow_summary
    assert len(s) == 2357
    assert int((s.frequency > 0).sum()) == 946  # repeat buyers used by Gamma-Gamma
    assert s.frequency.sum() == 2457
    assert s.holdout_frequency.sum() == 1882
    first = int(np.flatnonzero(s.customer_id == "0001")[0])
    assert (s.frequency[first], round(s.recency[first], 2), round(s.T[first], 2)) == (
        2,
        30.43,
        38.86,
    )
    assert s.holdout_length == 39.0


@pytest.mark.parametrize("model", ["bgnbd", "pnbd", "mbgnbd"])
def test_transaction_models_reproduce_published_estimates(
    cdnow_summary: CustomerSummary, model: str
) -> None:
    s = cdnow_summary
    fit = models.fit(model, s.frequency, s.recency, s.T)
    params, ll = PUBLISHED[model]
    assert fit.log_likelihood == pytest.approx(ll, abs=0.1)
    for name, value in params.items():
        if model == "pnbd" and name == "beta":
            continue  # the likelihood is nearly flat in beta; the LL check covers it
        assert fit.params[name] == pytest.approx(value, rel=0.01), name
    assert fit.converged
    assert fit.n == 2357


def test_pareto_beta_within_one_percent_too(cdnow_summary: CustomerSummary) -> None:
    s = cdnow_summary
    fit = models.fit("pnbd", s.frequency, s.recency, s.T)
    assert fit.params["beta"] == pytest.approx(11.669, rel=0.01)


def test_gamma_gamma_reproduces_published_estimates(cdnow_summary: CustomerSummary) -> None:
    s = cdnow_summary
    fit = models.fit("gg", s.frequency, monetary_value=s.monetary_value)
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert fit.params[name] == pytest.approx(value, rel=0.01), name
    assert fit.n == 946
    assert fit.n_excluded == 1411


def test_bgnbd_conditional_expectation_from_hardie_note() -> None:
    fit = models.FittedModel(
        "bgnbd", {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, 0.0, 1, True, 0.0
    )
    assert models.expected_purchases(fit, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)


def test_holdout_by_frequency(cdnow_summary: CustomerSummary) -> None:
    s = cdnow_summary
    actual = [0.237, 0.697, 1.393, 1.560, 2.532, 2.947, 3.862, 6.359]
    expected = {
        "pnbd": [0.138, 0.599, 1.196, 1.714, 2.398, 2.907, 3.819, 6.403],
        "bgnbd": [0.225, 0.523, 1.044, 1.520, 2.164, 2.654, 3.504, 6.157],
    }
    for model, predicted in expected.items():
        fit = models.fit(model, s.frequency, s.recency, s.T)
        report = holdout_report(fit, s.frequency, s.recency, s.T, s.holdout_frequency, 39.0)
        assert [b.customers for b in report.buckets] == [1411, 439, 214, 100, 62, 38, 29, 64]
        assert [round(b.actual_mean, 3) for b in report.buckets] == actual
        assert [b.predicted_mean for b in report.buckets] == pytest.approx(predicted, abs=2e-3)
        assert report.actual_total == 1882
        assert report.predicted_total == pytest.approx(
            1653.4 if model == "bgnbd" else 1665.5, abs=0.5
        )


def test_tracking_cumulative_repeat_purchases(cdnow_summary: CustomerSummary) -> None:
    """Figure 3 of the BG/NBD paper: the cohort's cumulative repeat purchases by week."""
    import duckdb

    from .conftest import cdnow_table

    con = duckdb.connect()
    con.register("cdnow_raw", cdnow_table())
    view = summary.stage_transactions(con, "cdnow_raw", "customer", "date", "amount")
    days, counts = summary.repeats_by_day(con, view, CAL_END, OBS_END)
    origin = day_number(CAL_END.replace(month=1, day=1))
    grid = np.arange(1.0, 79.0)
    actual = actual_cumulative_repeats(days, counts, origin, 7.0, grid)
    assert actual[38] == 2457
    assert actual[77] == 4339
    s = cdnow_summary
    fit = models.fit("bgnbd", s.frequency, s.recency, s.T)
    predicted = expected_cumulative_repeats(fit, (s.first_day - origin) / 7.0, grid)
    assert np.all(np.diff(predicted) > 0)
    assert predicted[38] == pytest.approx(2457, rel=0.03)  # in-sample
    assert predicted[77] == pytest.approx(4339, rel=0.05)  # 39 weeks out of sample


def test_model_comparison_ranks_by_aic(cdnow_summary: CustomerSummary) -> None:
    s = cdnow_summary
    fits = [models.fit(m, s.frequency, s.recency, s.T) for m in ("pnbd", "bgnbd", "mbgnbd")]
    table = compare_models(fits)
    assert [row["model"] for row in table] == ["mbgnbd", "bgnbd", "pnbd"]
    assert table[0]["delta_aic"] == 0.0
    assert table[-1]["aic"] == pytest.approx(2 * 4 + 2 * 9594.98, abs=0.1)
