"""Async jobs: submitted, kept, run by every node's workers, and told to whoever listens when they end."""
