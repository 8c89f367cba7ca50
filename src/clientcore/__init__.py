"""clientcore: one profile per customer across every channel, and what to do about it."""

__version__ = "0.1.0"
