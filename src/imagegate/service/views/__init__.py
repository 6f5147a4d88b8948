"""What a reader sees: a key holder's own account, and the catalog of models."""
