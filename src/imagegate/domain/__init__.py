"""Pure domain: no web, database, network or filesystem imports."""
