"""CPU the metrics add to one generation request: what IMAGEGATE_METRICS=true does per request.

    .venv/bin/python bench/micro_metrics.py              # in-process values
    PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) .venv/bin/python bench/micro_metrics.py   # several workers

Per request the wrappers do: one upstream histogram observation, one circuit gauge set, one held and
one captured counter increment, and `Metrics.observe` of the usage record (counter, histogram, images).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from imagegate.observability.metrics import Metrics
from micro_images_index import usage_record  # bench/ is the script's folder

N = 50_000


def main() -> None:
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    metrics = Metrics(Path(folder) if folder else None)
    record = usage_record()  # the same record the images-index micro-benchmark writes
    upstream = metrics.upstream_seconds.labels("openai")
    circuit = metrics.circuit_state.labels("gpt-image-2/openai")
    started = time.process_time()
    for _ in range(N):
        upstream.observe(0.4)
        circuit.set(0)
        metrics.held_micros.inc(11000)
        metrics.captured_micros.inc(11000)
        metrics.observe(record)
    per_request_us = (time.process_time() - started) / N * 1e6
    mode = "multiprocess (mmap files)" if folder else "in process"
    print(f"metrics per request, {mode}: {per_request_us:.1f} µs CPU")


if __name__ == "__main__":
    main()
