"""Requests folded into days: spend, images and requests per UTC day, with empty days as zeros."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol


class Billable(Protocol):
    @property
    def created_at(self) -> datetime: ...
    @property
    def delivered(self) -> int: ...
    @property
    def cost_micros(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Day:
    date: date
    cost_micros: int
    images: int
    requests: int

    def as_json(self) -> dict[str, object]:
        return {
            "date": self.date.isoformat(),
            "cost_micros": self.cost_micros,
            "images": self.images,
            "requests": self.requests,
        }


def daily_totals(rows: Iterable[Billable], last_day: date, days: int) -> list[Day]:
    """`days` days ending with `last_day` (inclusive), oldest first."""
    first = last_day - timedelta(days=days - 1)
    cost = [0] * days
    images = [0] * days
    requests = [0] * days
    for row in rows:
        index = (row.created_at.astimezone(UTC).date() - first).days
        if 0 <= index < days:
            cost[index] += row.cost_micros
            images[index] += row.delivered
            requests[index] += 1
    return [Day(first + timedelta(days=i), cost[i], images[i], requests[i]) for i in range(days)]


__all__ = ["Day", "daily_totals"]
