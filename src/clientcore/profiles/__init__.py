"""clientcore.profiles."""
