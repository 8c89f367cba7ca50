"""Pure statistics for continuous experimentation: A/B readouts, bandits, OPE, scenarios, KPIs.

The SQL engine aggregates events into per-variant sufficient statistics
(:class:`~clientcore.experiments.suffstats.SampleStats` and
:class:`~clientcore.experiments.suffstats.CupedStats`); these modules only do mathematics on
them, in the spirit of GrowthBook's ``gbstats``. Nothing here reads files or talks to a
database, except :mod:`clientcore.experiments.cli`, the thin Typer wrapper around OPE.

Modules:

- ``suffstats``: frozen, addable sufficient statistics.
- ``frequentist``, ``sequential``, ``bayesian``, ``corrections``, ``srm`` (re-exported by
  ``stats``): the tests. ``readout``: one serialisable experiment readout.
- ``bandits``: Bernoulli/Gaussian Thompson sampling, top-two sampling for best-arm
  identification with GLR stopping; ``contextual``: linear Thompson sampling on encoded
  features; ``policy_base``: decisions with propensities, exact P(best) by quadrature.
- ``ope`` (+ ``ope_tables`` for Arrow validation): off-policy evaluation (IPS, SNIPS, DM, DR)
  from logged decisions; ``cli``: the ``experiments ope`` Typer sub-app.
- ``scenarios``: Thompson search over factor combinations.
- ``kpi``: seasonal anomaly detection and drop drill-down.

Exception hierarchy (everything raised on purpose derives from one base)::

    ExperimentsError(Exception)
    ├── InvalidStatsError(ExperimentsError, ValueError)   inconsistent sufficient statistics
    ├── InvalidInputError(ExperimentsError, ValueError)   bad arguments (weights, shapes, ...)
    │   └── OpeInputError                                 bad OPE table: names column + problem
    └── BanditStateError(ExperimentsError, ValueError)    unknown arm / malformed saved state

A sample-ratio mismatch is *not* an exception: :func:`readout.readout` returns a result whose
``status`` is ``"blocked"`` with a human-readable ``blocked_reason``.
"""

from clientcore.experiments.errors import (
    BanditStateError,
    ExperimentsError,
    InvalidInputError,
    InvalidStatsError,
    OpeInputError,
)

__all__ = [
    "BanditStateError",
    "ExperimentsError",
    "InvalidInputError",
    "InvalidStatsError",
    "OpeInputError",
]
