"""Latency figures from a sample of request durations: median and p90 by nearest rank."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MIN_SAMPLES = 3
"""Fewer successful requests than this say too little: the page shows "not enough data"."""


@dataclass(frozen=True, slots=True)
class LatencySummary:
    samples: int
    median_ms: int | None
    p90_ms: int | None

    @property
    def enough(self) -> bool:
        return self.median_ms is not None


def percentile(sorted_ms: Sequence[int], fraction: float) -> int:
    """Nearest-rank percentile of an ascending, non-empty sequence."""
    rank = max(1, math.ceil(fraction * len(sorted_ms)))
    return sorted_ms[rank - 1]


def summarize(latencies_ms: Sequence[int], min_samples: int = MIN_SAMPLES) -> LatencySummary:
    values = sorted(latencies_ms)
    if len(values) < min_samples:
        return LatencySummary(len(values), None, None)
    return LatencySummary(len(values), percentile(values, 0.5), percentile(values, 0.9))


__all__ = ["MIN_SAMPLES", "LatencySummary", "percentile", "summarize"]
