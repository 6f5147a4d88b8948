"""Output screening's `local` mode: NudeNet's detector (its wheel ships the ONNX model) run on
onnxruntime on this node, with no network (`domain.ports.ImageClassifier`).

It is an optional extra (`pip install 'imagegate[screening]'`); without it the gateway refuses to start
in this mode, naming that line. Inference runs in a worker thread, one image at a time per process
(onnxruntime already spreads one inference over the cores).
"""

from __future__ import annotations

from typing import Any

import anyio
import anyio.to_thread

from ..domain.output_policy import detector_scores
from ..domain.upstream import ScreeningImage

try:
    import numpy
    from nudenet import NudeDetector
except ImportError as missing:  # the extra is not installed: only `load` says so
    _MISSING: ImportError | None = missing
else:
    _MISSING = None

INSTALL_LINE = "pip install 'imagegate[screening]'"
VIEW_SIDE = 640
"""The longest side of the view the detector reads (it looks at 320x320; more only costs time)."""


class LocalDetector:
    kind = "local"
    view_side = VIEW_SIDE

    def __init__(self, detector: Any) -> None:
        self._detector = detector
        self._one_at_a_time = anyio.CapacityLimiter(1)

    @staticmethod
    def require() -> None:
        """Raise `RuntimeError` naming the pip line when the extra is not installed."""
        if _MISSING is not None:
            raise RuntimeError(
                f"IMAGEGATE_OUTPUT_SCREENING=local needs the screening extra ({_MISSING}); install it: {INSTALL_LINE}"
            )

    @classmethod
    def load(cls) -> LocalDetector:
        """The detector, its model loaded (a quarter of a second); see `require`."""
        cls.require()
        return cls(NudeDetector())

    async def scores(self, image: ScreeningImage) -> dict[str, float]:
        pixels = numpy.frombuffer(image.rgb, numpy.uint8).reshape(image.height, image.width, 3)
        detections = await anyio.to_thread.run_sync(self._detector.detect, pixels, limiter=self._one_at_a_time)
        return detector_scores(detections)


__all__ = ["INSTALL_LINE", "LocalDetector"]
