"""Upstream wire formats, one module each, behind the `Provider` protocol (domain/ports.py)."""
