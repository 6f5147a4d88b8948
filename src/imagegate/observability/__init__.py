"""What operators watch: Prometheus metrics and the wrappers that count them; the log lines, credentials redacted."""
