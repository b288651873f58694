"""Freshness rules of the API: who sees a stale listing, and how its state is shown.

The thresholds are :class:`api.settings.FreshnessSettings`; the times come from the app's
clock (:func:`api.deps.get_now`). A listing confirmed on day D (UTC) is flagged from day
D + ``flag_days`` and hidden from the public search and from matching from day
D + ``hide_days`` + 1 until it is confirmed or edited; its owner and the staff still see it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, Field

from geodata.freshness import age_days, flagged_before, hidden_before
from geodata.schemas import Premises
from geodata.storage.accounts import Account
from geodata.storage.query import PremisesQuery

from .settings import FreshnessSettings

__all__ = ["Freshness", "flag_before", "freshness_of", "hide_before", "public_query"]


class Freshness(BaseModel):
    """Where a listing stands with its owner's confirmations (owner's and staff's view)."""

    verified_at: datetime | None = Field(
        description="Its freshness date: when it was last created, edited or confirmed."
    )
    age_days: int | None = Field(description="Whole days since then (UTC days).")
    flagged: bool = Field(description="Unconfirmed for flag_days or more: confirm it.")
    hidden: bool = Field(
        description="Unconfirmed for more than hide_days: out of the public search and "
        "matching until confirmed (POST /premises/{id}/confirm) or edited."
    )
    hidden_from: date | None = Field(
        description="The first day (UTC) it is hidden unless confirmed before."
    )
    days_left: int | None = Field(description="Days before hidden_from (0 once hidden).")


def hide_before(now: datetime, settings: FreshnessSettings) -> datetime:
    """Listings confirmed before this instant are hidden (more than ``hide_days`` old)."""
    return hidden_before(now, settings.hide_days)


def flag_before(now: datetime, settings: FreshnessSettings) -> datetime:
    """Listings confirmed before this instant are flagged (``flag_days`` old or more)."""
    return flagged_before(now, settings.flag_days)


def public_query(
    query: PremisesQuery, account: Account | None, now: datetime, settings: FreshnessSettings
) -> PremisesQuery:
    """The query as the reader may run it: staff read everything; everyone else reads the
    public view (neither withdrawn nor hidden), plus all of their own listings for a developer.
    """
    if account is not None and account.role == "staff":
        return query
    owner = account.name if account is not None and account.role == "developer" else None
    return query.model_copy(
        update={"visible_since": hide_before(now, settings), "visible_owner": owner}
    )


def freshness_of(item: Premises, now: datetime, settings: FreshnessSettings) -> Freshness:
    """The freshness state of a listing on ``now``'s day."""
    verified = item.last_verified_at
    age = age_days(verified, now)
    if verified is None or age is None:
        return Freshness(
            verified_at=None,
            age_days=None,
            flagged=False,
            hidden=False,
            hidden_from=None,
            days_left=None,
        )
    hidden_from = verified.astimezone(UTC).date() + timedelta(days=settings.hide_days + 1)
    return Freshness(
        verified_at=verified,
        age_days=age,
        flagged=age >= settings.flag_days,
        hidden=age > settings.hide_days,
        hidden_from=hidden_from,
        days_left=max(0, (hidden_from - now.astimezone(UTC).date()).days),
    )
