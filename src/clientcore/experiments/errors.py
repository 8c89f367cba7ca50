"""One exception hierarchy for the experiments package (see the package docstring)."""

from __future__ import annotations


class ExperimentsError(Exception):
    """Base class: catch this to handle every deliberate failure of the package."""


class InvalidStatsError(ExperimentsError, ValueError):
    """Sufficient statistics that cannot come from real data (negative n, variance < 0, ...)."""


class InvalidInputError(ExperimentsError, ValueError):
    """An argument is malformed: wrong shape, weights that do not sum to one, ..."""


class OpeInputError(InvalidInputError):
    """A logs/policy table is unusable; carries the column so the CLI can name it."""

    def __init__(self, column: str, problem: str) -> None:
        self.column = column
        self.problem = problem
        super().__init__(f"column '{column}': {problem}")


class BanditStateError(ExperimentsError, ValueError):
    """Unknown arm, mismatched context size, or a saved state that cannot be restored."""
