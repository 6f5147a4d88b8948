"""Webhooks of finished jobs: the outbox they are queued in, the loop that sends them, the endpoints they go to."""
