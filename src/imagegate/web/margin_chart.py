"""The admin page's margin chart: per model and route, revenue beside upstream cost, drawn on the
server as SVG geometry (the content-security policy allows no script or inline style to draw it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ..service.operator.margin import MarginReport

CHART_DAYS = 30
LABEL_WIDTH = 220
BAR_SPAN = 360
"""The widest bar, in SVG units (the dearest figure of the window)."""
BAR_HEIGHT = 12
LINE_HEIGHT = 40


@dataclass(frozen=True, slots=True)
class MarginBar:
    """One model and route: its two bars' lengths and where its line sits."""

    label: str
    y: int
    revenue_width: int
    cost_width: int
    line: dict[str, Any]


async def margin_chart(report: MarginReport, now: datetime | None = None) -> dict[str, Any]:
    """The last `CHART_DAYS` days' report, with each line's bars scaled to the largest figure."""
    end = now or datetime.now(UTC)
    result = await report.report(end - timedelta(days=CHART_DAYS), end)
    lines = result["data"]
    largest = max((max(line["revenue_micros"], line["upstream_cost_micros"]) for line in lines), default=0)
    bars = [
        MarginBar(
            label=f"{line['model']} · {line['route']}",
            y=index * LINE_HEIGHT,
            revenue_width=_scaled(line["revenue_micros"], largest),
            cost_width=_scaled(line["upstream_cost_micros"], largest),
            line=line,
        )
        for index, line in enumerate(lines)
    ]
    return {
        "days": CHART_DAYS,
        "bars": bars,
        "totals": result["totals"],
        "height": max(len(bars), 1) * LINE_HEIGHT + 24,
        "label_width": LABEL_WIDTH,
        "bar_height": BAR_HEIGHT,
    }


def _scaled(micros: int, largest: int) -> int:
    """A bar's length: 0 for nothing, at least 1 unit for anything (so a small cost still shows)."""
    if micros <= 0 or largest <= 0:
        return 0
    return max(1, micros * BAR_SPAN // largest)


__all__ = ["CHART_DAYS", "MarginBar", "margin_chart"]
