"""Time ranges given as unix seconds or ISO 8601, for usage queries (HTTP and CLI alike)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..domain.errors import InvalidRequest

DEFAULT_SPAN = timedelta(days=30)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""Times outside [EARLIEST, LATEST] are refused: far enough from `datetime`'s own limits (years 1 and
9999) that a default span or a zone offset never overflows, wide enough for any real query."""
TIME_FORM = (
    r"[0-9]{1,11}(\.[0-9]{1,6})?"
    r"|(197[1-9]|19[89][0-9]|[2-8][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
    r"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?)?"
)
"""Times `parse_time` takes, as the API document gives them: unix seconds, or an ISO 8601 date or time
from 1971 to 8999 (it takes more: every day of every month, other spellings)."""


def parse_time(value: str | None, param: str, default: datetime) -> datetime:
    """Unix seconds or ISO 8601 (a time without a zone is UTC)."""
    if value is None or value == "":
        return default
    try:
        if value.replace(".", "", 1).isdigit():
            parsed = datetime.fromtimestamp(float(value), UTC)
        else:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        parsed.astimezone(UTC)  # an offset that carries the time past year 1 or 9999 overflows here
    except (ValueError, OverflowError, OSError) as exc:
        raise InvalidRequest(f"'{param}' must be unix seconds or an ISO 8601 time.", param=param) from exc
    if not EARLIEST <= parsed <= LATEST:
        raise InvalidRequest(
            f"'{param}' must be between {EARLIEST.date().isoformat()} and {LATEST.date().isoformat()}.", param=param
        )
    return parsed


def time_range(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """[start, end): end defaults to now, start to 30 days before end."""
    last = parse_time(end, "end", datetime.now(UTC) + timedelta(seconds=1))
    first = parse_time(start, "start", last - DEFAULT_SPAN)
    if first >= last:
        raise InvalidRequest("'start' must be before 'end'.", param="start")
    return first, last


__all__ = ["TIME_FORM", "parse_time", "time_range"]
