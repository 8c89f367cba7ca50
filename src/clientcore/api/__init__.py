"""clientcore.api."""
