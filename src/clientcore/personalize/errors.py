"""The exceptions of the personal shopper.

Exceptions::

    RecommendError              anything the recommender could not do
    ├── NoModelError            no trained model version exists yet (run `recommend train`)
    ├── CatalogError            the catalog file cannot be read or lacks a column
    ├── NotEnoughDataError      too few interactions to train or to evaluate
    └── InvalidRequestError     a parameter is out of range; `field` names it
"""

from __future__ import annotations


class RecommendError(Exception):
    """Base class; `field` names the option or parameter at fault, when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NoModelError(RecommendError):
    """No model version has been trained for this database."""


class CatalogError(RecommendError):
    """The catalog file is missing, unreadable or lacks `product_id`."""


class NotEnoughDataError(RecommendError):
    """The event log holds too few product interactions for the requested step."""


class InvalidRequestError(RecommendError):
    """A request parameter is out of range."""
