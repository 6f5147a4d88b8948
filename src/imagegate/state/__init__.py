"""Shared runtime state: circuit breakers, rate-limit buckets and in-flight counts (in process, or Redis)."""
