"""clientcore.store."""
