"""In-process tests of the core classes (ImageService, admission and settlement, Router, the circuit
breaker, conformance): real classes on a real database; only the upstream side is a stand-in."""
