"""Exceptions of the lifetime-value package (hierarchy drawn in the package docstring)."""

from __future__ import annotations


class ClvError(Exception):
    """Base of every error this package raises on purpose, so callers can catch one type."""


class DataError(ClvError, ValueError):
    """Input data is malformed: names the field and the problem so a user can fix the file."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class FitError(ClvError, RuntimeError):
    """Estimation failed (degenerate data, no convergence): names the model and the reason."""

    def __init__(self, model: str, reason: str) -> None:
        self.model = model
        self.reason = reason
        super().__init__(f"{model}: {reason}")
