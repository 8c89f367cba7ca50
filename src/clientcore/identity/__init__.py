"""clientcore.identity."""
