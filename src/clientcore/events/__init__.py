"""clientcore.events."""
