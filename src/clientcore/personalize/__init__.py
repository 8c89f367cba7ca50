"""clientcore.personalize."""
