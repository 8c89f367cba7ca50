"""Facade: every test of the statistical core in one import (``experiments.stats``)."""

from clientcore.experiments.bayesian import (
    BayesResult,
    bayes_beta_binomial,
    bayes_normal,
    normal_expected_loss,
)
from clientcore.experiments.corrections import adjust, benjamini_hochberg, holm
from clientcore.experiments.frequentist import (
    Estimate,
    Moments,
    TestResult,
    cuped_test,
    cuped_theta,
    moments_test,
    proportion_test,
    relative_lift,
    welch_test,
)
from clientcore.experiments.readout import Comparison, Readout, readout
from clientcore.experiments.sequential import (
    LookCalibration,
    always_valid_p,
    calibrate_looks,
    cs_halfwidth,
    mixture_rho2,
    sequential_test,
)
from clientcore.experiments.srm import SrmResult, srm_check
from clientcore.experiments.suffstats import CupedStats, SampleStats

__all__ = [
    "BayesResult",
    "Comparison",
    "CupedStats",
    "Estimate",
    "LookCalibration",
    "Moments",
    "Readout",
    "SampleStats",
    "SrmResult",
    "TestResult",
    "adjust",
    "always_valid_p",
    "bayes_beta_binomial",
    "bayes_normal",
    "benjamini_hochberg",
    "calibrate_looks",
    "cs_halfwidth",
    "cuped_test",
    "cuped_theta",
    "holm",
    "mixture_rho2",
    "moments_test",
    "normal_expected_loss",
    "proportion_test",
    "readout",
    "relative_lift",
    "sequential_test",
    "srm_check",
    "welch_test",
]
