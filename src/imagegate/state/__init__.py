"""Shared runtime state: in process by default, in Redis when IMAGEGATE_REDIS_URL is set."""
