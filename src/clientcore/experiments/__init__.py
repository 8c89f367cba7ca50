"""clientcore.experiments."""
