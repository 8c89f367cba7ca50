"""Customer lifetime value: buy-till-you-die models fitted by maximum likelihood.

Models (parameters named as in the papers):

* BG/NBD, ``bgnbd`` (Fader, Hardie & Lee 2005): r, alpha, a, b
* Pareto/NBD, ``pnbd`` (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005 note):
  r, alpha, s, beta
* MBG/NBD, ``mbgnbd`` (Batislam, Denizel & Filiztekin 2007): r, alpha, a, b
* Gamma-Gamma spend, ``gg`` (Fader, Hardie & Lee 2005, "RFM and CLV"): p, q, gamma

Pipeline: `summary.summarize` (SQL in DuckDB) -> `models.fit` -> `models.p_alive`,
`models.expected_purchases`, `models.expected_spend`, `lifetime_value.customer_lifetime_value`,
`diagnostics.holdout_report` / `compare_models`, `chart` for SVG output. The Typer sub-app is
`clientcore.value.clv.cli.clv_app`.

Exceptions::

    Exception
     └── ClvError            anything this package raises on purpose
          ├── DataError      (also a ValueError) malformed input; .field names the column
          └── FitError       (also a RuntimeError) degenerate data or no convergence;
                             .model names the model, .reason says why
"""

from clientcore.value.clv.diagnostics import (
    HoldoutReport,
    compare_models,
    expected_cumulative_repeats,
    holdout_report,
)
from clientcore.value.clv.errors import ClvError, DataError, FitError
from clientcore.value.clv.fitting import FittedModel
from clientcore.value.clv.lifetime_value import customer_lifetime_value
from clientcore.value.clv.models import (
    MODELS,
    expected_purchases,
    expected_spend,
    fit,
    fit_gamma_gamma,
    log_likelihood,
    p_alive,
)
from clientcore.value.clv.summary import CustomerSummary, summarize

__all__ = [
    "MODELS",
    "ClvError",
    "CustomerSummary",
    "DataError",
    "FitError",
    "FittedModel",
    "HoldoutReport",
    "compare_models",
    "customer_lifetime_value",
    "expected_cumulative_repeats",
    "expected_purchases",
    "expected_spend",
    "fit",
    "fit_gamma_gamma",
    "holdout_report",
    "log_likelihood",
    "p_alive",
    "summarize",
]
