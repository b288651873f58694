"""Freshness of the listings: when one is flagged to its owner, and when it is hidden.

A listing's freshness date is ``last_verified_at``: when its owner or the staff last
created, edited or confirmed it. Ages are whole days in UTC, counted on the caller's clock
(``now``): a listing confirmed on day D is ``age`` days old on day D + age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geodata.freshness import age_days, older_than
from geodata.schemas import Premises, Status
from geodata.storage import _common as co
from geodata.storage import _convert as cv
from geodata.storage._tables import notifications, premises

__all__ = [
    "ON_MARKET",
    "StaleListing",
    "age_days",
    "older_than",
    "stale_premises",
    "unreminded_stale",
]

#: The statuses whose listings are on the market, so whose owners are reminded to confirm.
ON_MARKET = (Status.available, Status.under_offer)


def stale_premises(
    conn: Connection,
    *,
    before: datetime,
    owner: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> co.Page[Premises]:
    """The on-market listings confirmed before ``before``, oldest first, one page.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        An open connection.
    before : datetime
        Listings whose freshness date is earlier (typically :func:`older_than`).
    owner : str, optional
        Only this account's listings.
    limit, offset : int
        The page.

    Returns
    -------
    Page
        The listings (status available or under offer), oldest freshness date first (then
        by id), and how many there are in all.
    """
    co.check_page(limit, offset)
    where = [
        premises.c.last_verified_at < before,
        premises.c.status.in_([s.value for s in ON_MARKET]),
    ]
    if owner is not None:
        where.append(premises.c.owner_account == owner)
    total = conn.execute(sa.select(sa.func.count()).select_from(premises).where(*where))
    stmt = (
        sa.select(premises)
        .where(*where)
        .order_by(premises.c.last_verified_at, premises.c.id)
        .limit(limit)
        .offset(offset)
    )
    n = int(total.scalar_one())
    items = [cv.premises_from_row(row) for row in conn.execute(stmt).mappings()]
    return co.Page[Premises].model_construct(items=items, total=n, limit=limit, offset=offset)


@dataclass(frozen=True)
class StaleListing:
    """An on-market listing whose owner has not yet been reminded of this version of it."""

    id: int
    version: int
    owner: str
    title: str
    last_verified_at: datetime


def unreminded_stale(
    conn: Connection, *, before: datetime, kind: str, limit: int = 10_000
) -> list[StaleListing]:
    """The owned on-market listings confirmed before ``before`` with no notification of
    ``kind`` about their current version yet, oldest first (at most ``limit``).

    A confirmation or an edit moves the version, so each unconfirmed stretch of a listing
    gets one reminder. One set-based query (an anti-join on the notifications).
    """
    reminded = sa.select(notifications.c.id).where(
        notifications.c.kind == kind,
        notifications.c.premises_id == premises.c.id,
        notifications.c.premises_version == premises.c.version,
    )
    stmt = (
        sa.select(
            premises.c.id,
            premises.c.version,
            premises.c.owner_account,
            premises.c.title,
            premises.c.last_verified_at,
        )
        .where(
            premises.c.last_verified_at < before,
            premises.c.status.in_([s.value for s in ON_MARKET]),
            premises.c.owner_account.is_not(None),
            ~sa.exists(reminded),
        )
        .order_by(premises.c.last_verified_at, premises.c.id)
        .limit(limit)
    )
    return [
        StaleListing(
            id=row.id,
            version=row.version,
            owner=row.owner_account,
            title=row.title,
            last_verified_at=row.last_verified_at,
        )
        for row in conn.execute(stmt)
    ]
