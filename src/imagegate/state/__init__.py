"""State shared by requests: rate-limit buckets and in-flight counts (in process, or Redis)."""
