"""UTC budget periods and end-user ids (domain.budgets)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from imagegate.domain.budgets import check_end_user, end_user_subject, period_end, period_start
from imagegate.domain.errors import InvalidRequest


def test_periods_are_utc_calendar_days_and_months() -> None:
    late = datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert period_start("day", late) == datetime(2026, 12, 31, tzinfo=UTC)
    assert period_end("day", period_start("day", late)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert period_end("month", period_start("month", late)) == datetime(2027, 1, 1, tzinfo=UTC)
    assert period_end("month", datetime(2028, 2, 1, tzinfo=UTC)) == datetime(2028, 3, 1, tzinfo=UTC)
    # another zone's evening is already the next UTC day
    evening = datetime(2026, 3, 1, 20, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert period_start("day", evening) == datetime(2026, 3, 2, tzinfo=UTC)
    assert period_start("month", evening) == datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize("hostile", ["", "   ", "a\x00b", "tab\there", "\ud800", "x" * 257])
def test_hostile_end_user_ids_are_refused(hostile: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check_end_user(hostile, "x-user")
    assert refused.value.param == "x-user"


def test_an_end_user_is_stored_as_a_digest() -> None:
    subject = end_user_subject("alice@example.com")
    assert "alice" not in subject and len(subject) <= 64
    assert subject == end_user_subject("alice@example.com") != end_user_subject("bob@example.com")
