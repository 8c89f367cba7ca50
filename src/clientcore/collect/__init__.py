"""clientcore.collect."""
