"""Freshness of a listing as pure date arithmetic (no database): how old its confirmation is,
and the instants before which a confirmation makes it flagged or hidden.

A listing's freshness date is ``last_verified_at``: when its owner or the staff last
created, edited or confirmed it. Ages are whole days in UTC, counted on the caller's clock
(``now``): a listing confirmed on day D is ``age`` days old on day D + age. Kept apart from
:mod:`geodata.storage.freshness` so that ``implanter match`` computes its cut-off without
importing the storage layer.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

__all__ = ["age_days", "flagged_before", "hidden_before", "older_than"]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def older_than(now: datetime, days: int) -> datetime:
    """The first instant of the first day less than ``days`` days old on ``now``'s day.

    A listing confirmed before it is at least ``days`` days old: it is flagged when
    ``days`` is the flag threshold, and hidden when ``days`` is the hide threshold plus one.

    Examples
    --------
    >>> older_than(datetime(2026, 12, 2, 15, 0, tzinfo=UTC), 60)
    datetime.datetime(2026, 10, 4, 0, 0, tzinfo=datetime.timezone.utc)
    """
    return _day_start(now.astimezone(UTC).date() - timedelta(days=days - 1))


def age_days(verified_at: datetime | None, now: datetime) -> int | None:
    """Whole days from the freshness date's day to ``now``'s day (UTC); None without a date.

    Examples
    --------
    >>> age_days(datetime(2026, 10, 3, 23, 0, tzinfo=UTC), datetime(2026, 12, 2, 1, 0, tzinfo=UTC))
    60
    """
    if verified_at is None:
        return None
    return (now.astimezone(UTC).date() - verified_at.astimezone(UTC).date()).days


def hidden_before(now: datetime, hide_days: int) -> datetime:
    """Listings confirmed before this instant are hidden (more than ``hide_days`` days old).

    Examples
    --------
    >>> hidden_before(datetime(2026, 12, 2, 15, 0, tzinfo=UTC), 90)
    datetime.datetime(2026, 9, 3, 0, 0, tzinfo=datetime.timezone.utc)
    """
    return older_than(now, hide_days + 1)


def flagged_before(now: datetime, flag_days: int) -> datetime:
    """Listings confirmed before this instant are flagged (``flag_days`` days old or more)."""
    return older_than(now, flag_days)
