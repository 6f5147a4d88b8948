"""Use cases, called by the HTTP layer and the CLI alike."""
