"""clientcore.value."""
