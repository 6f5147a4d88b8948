"""Prometheus metrics: what is counted, and the wrappers that count it."""
