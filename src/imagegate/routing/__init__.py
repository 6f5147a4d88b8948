"""Getting images from upstream routes: conformance checks, retries, failover, deadline."""
