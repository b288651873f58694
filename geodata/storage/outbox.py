"""The alerts outbox: notifications to accounts and their webhook deliveries, over a connection.

A notification is inserted in the transaction of the change that caused it (a listing that
newly fits a saved need), so it exists exactly when that change committed. Each account may
set one webhook; a notification written while its recipient has one is due for delivery at
once (``next_attempt_at``). Deliverers claim due notifications in short transactions
(:func:`claim_due`: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite has one writer at a
time), post them outside any transaction and record the outcome
(:func:`record_delivered`, :func:`record_failure`). A claim moves ``next_attempt_at`` past the
attempt's end, so the claim of a deliverer that dies mid-delivery expires by itself and the
notification is claimed again: delivery is at least once, with the notification id as the
idempotency key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from geodata.storage import _common as co
from geodata.storage._tables import notifications, webhooks
from geodata.storage.errors import NotFoundError

__all__ = [
    "Claim",
    "DeliveryState",
    "NewNotification",
    "Notification",
    "Webhook",
    "add_notifications",
    "claim_due",
    "delete_webhook",
    "get_notification",
    "get_webhook",
    "list_deliveries",
    "list_notifications",
    "mark_read",
    "record_delivered",
    "record_failure",
    "retry_delivery",
    "set_webhook",
]

ENTITY_NOTIFICATION = "notification"

DeliveryState = Literal["none", "pending", "delivered", "failed"]


class NewNotification(BaseModel):
    """A notification to write: who gets it, about what."""

    recipient: str = Field(max_length=120, description="The account name it is for.")
    kind: str = Field(
        max_length=20,
        description="What happened: 'match' (a listing fits a need), 'stale_listing' (a "
        "listing of the recipient's to confirm).",
    )
    need_id: int | None = None
    premises_id: int | None = None
    premises_version: int | None = None
    score: float | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class Notification(NewNotification):
    """A stored notification, with its read time and its webhook delivery state."""

    id: int
    created_at: datetime
    read_at: datetime | None
    attempts: int = Field(description="Webhook delivery attempts so far.")
    next_attempt_at: datetime | None = Field(
        description="When the next webhook attempt is due (none: nothing left to send)."
    )
    delivered_at: datetime | None
    last_error: str | None
    gave_up_at: datetime | None

    @property
    def delivery(self) -> DeliveryState:
        """``delivered``, ``failed`` (given up), ``pending``, or ``none`` (no webhook)."""
        if self.delivered_at is not None:
            return "delivered"
        if self.gave_up_at is not None:
            return "failed"
        return "pending" if self.next_attempt_at is not None else "none"


class Webhook(BaseModel):
    """An account's webhook as shown after it is set (the secret is shown once, apart)."""

    account: str
    url: str
    created_at: datetime


@dataclass(frozen=True)
class Claim:
    """A notification claimed for one delivery attempt, with where and how to sign it."""

    notification: Notification
    attempt: int
    url: str
    secret: str


_N_COLUMNS = [notifications.c[name] for name in Notification.model_fields]


def _from_row(row: Mapping[Any, Any]) -> Notification:
    data = dict(row)
    data["payload"] = json.loads(data["payload"])
    return Notification.model_validate(data)


def add_notifications(
    conn: Connection, items: Sequence[NewNotification], *, at: datetime | None = None
) -> list[Notification]:
    """Write notifications in the caller's transaction; returned in the order given.

    A notification whose recipient has a webhook now is due for delivery at once.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside the write transaction of the change being notified.
    items : sequence of NewNotification
        What to write.
    at : datetime, optional
        The creation time (default: now).
    """
    if not items:
        return []
    at = at or co.now()
    recipients = sorted({item.recipient for item in items})
    hooked = set(
        conn.execute(sa.select(webhooks.c.account).where(webhooks.c.account.in_(recipients)))
        .scalars()
        .all()
    )
    rows = [
        {
            **item.model_dump(exclude={"payload"}),
            "payload": json.dumps(item.payload, ensure_ascii=False, sort_keys=True),
            "created_at": at,
            "attempts": 0,
            "next_attempt_at": at if item.recipient in hooked else None,
        }
        for item in items
    ]
    ids = co.hooks_of(conn).insert_many(conn, notifications, rows)
    # Built from values already validated: no JSON decoding, no validation per row.
    return [
        Notification.model_construct(
            **{**row, "payload": item.payload},
            id=i,
            read_at=None,
            delivered_at=None,
            last_error=None,
            gave_up_at=None,
        )
        for item, row, i in zip(items, rows, ids, strict=True)
    ]


def get_notification(conn: Connection, notification_id: int) -> Notification:
    """Return one notification, or raise :class:`NotFoundError`."""
    return _from_row(co.fetch_row(conn, notifications, notification_id, ENTITY_NOTIFICATION))


def list_notifications(
    conn: Connection,
    recipient: str,
    *,
    unread: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> co.Page[Notification]:
    """Return one page of an account's notifications, newest first (``unread``: those only)."""
    co.check_page(limit, offset)
    where = [notifications.c.recipient == recipient]
    if unread:
        where.append(notifications.c.read_at.is_(None))
    total = conn.execute(
        sa.select(sa.func.count()).select_from(notifications).where(*where)
    ).scalar_one()
    stmt = (
        sa.select(*_N_COLUMNS)
        .where(*where)
        .order_by(notifications.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    items = [_from_row(row) for row in conn.execute(stmt).mappings()]
    return co.Page[Notification].model_construct(
        items=items, total=total, limit=limit, offset=offset
    )


def mark_read(
    conn: Connection, recipient: str, notification_id: int, *, at: datetime | None = None
) -> Notification:
    """Mark one of an account's notifications read (kept as read if it already was).

    Raises
    ------
    NotFoundError
        When the notification does not exist or is another account's: both look the same.
    """
    conn.execute(
        sa.update(notifications)
        .where(
            notifications.c.id == notification_id,
            notifications.c.recipient == recipient,
            notifications.c.read_at.is_(None),
        )
        .values(read_at=at or co.now())
    )
    row = (
        conn.execute(
            sa.select(*_N_COLUMNS).where(
                notifications.c.id == notification_id, notifications.c.recipient == recipient
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(ENTITY_NOTIFICATION, notification_id)
    return _from_row(row)


# -- webhooks ----------------------------------------------------------------------------------


def set_webhook(
    conn: Connection, account: str, url: str, secret: str, *, at: datetime | None = None
) -> Webhook:
    """Set (or replace) an account's webhook; pending deliveries go to the new one.

    The caller validates the URL and generates the secret.
    """
    at = at or co.now()
    conn.execute(sa.delete(webhooks).where(webhooks.c.account == account))
    conn.execute(sa.insert(webhooks).values(account=account, url=url, secret=secret, created_at=at))
    return Webhook(account=account, url=url, created_at=at)


def get_webhook(conn: Connection, account: str) -> Webhook | None:
    """Return an account's webhook (never its secret), or None."""
    row = (
        conn.execute(
            sa.select(webhooks.c.account, webhooks.c.url, webhooks.c.created_at).where(
                webhooks.c.account == account
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else Webhook.model_validate(dict(row))


def delete_webhook(conn: Connection, account: str, *, at: datetime | None = None) -> bool:
    """Remove an account's webhook and cancel its pending deliveries; False if it had none.

    The notifications stay readable in ``GET /me/notifications``.
    """
    deleted = conn.execute(sa.delete(webhooks).where(webhooks.c.account == account)).rowcount
    if deleted:
        conn.execute(
            sa.update(notifications)
            .where(
                notifications.c.recipient == account,
                notifications.c.next_attempt_at.is_not(None),
                notifications.c.delivered_at.is_(None),
                notifications.c.gave_up_at.is_(None),
            )
            .values(next_attempt_at=None, last_error="webhook removed by its account")
        )
    return bool(deleted)


# -- delivery ----------------------------------------------------------------------------------


def _pending() -> list[sa.ColumnElement[bool]]:
    return [notifications.c.delivered_at.is_(None), notifications.c.gave_up_at.is_(None)]


def claim_due(
    conn: Connection,
    *,
    now: datetime,
    lease_until: Callable[[int], datetime],
    max_attempts: int,
    limit: int = 20,
) -> list[Claim]:
    """Claim up to ``limit`` notifications due for a webhook attempt at ``now``.

    Each claimed row counts one more attempt and is not due again before
    ``lease_until(attempt)`` (the end of the attempt, timeout included): two deliverers
    never hold the same row, and the claim of one that dies expires by itself. On
    PostgreSQL the rows are locked with ``FOR UPDATE SKIP LOCKED``, so concurrent
    deliverers take different rows without waiting; on SQLite the write transaction is
    exclusive. A due row whose recipient has no webhook any more is cancelled; one that
    already had ``max_attempts`` attempts (its deliverer died during the last) is given up.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a short write transaction (commit before delivering).
    now : datetime
        The time of the claim.
    lease_until : callable
        The end of the lease of attempt number ``n`` (1, 2, …), when it is due again if
        its deliverer never records the outcome.
    max_attempts : int
        Attempts after which a notification is given up.
    limit : int
        Largest number of notifications claimed.
    """
    stmt = (
        sa.select(*_N_COLUMNS, webhooks.c.url, webhooks.c.secret)
        .select_from(
            notifications.outerjoin(webhooks, webhooks.c.account == notifications.c.recipient)
        )
        .where(notifications.c.next_attempt_at <= now, *_pending())
        .order_by(notifications.c.next_attempt_at, notifications.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=notifications)
    )
    rows = conn.execute(stmt).mappings().all()
    claims: list[Claim] = []
    for row in rows:
        item = _from_row({k: row[k] for k in Notification.model_fields})
        where = notifications.c.id == item.id
        if row["url"] is None:
            conn.execute(
                sa.update(notifications)
                .where(where)
                .values(next_attempt_at=None, last_error="no webhook set")
            )
        elif item.attempts >= max_attempts:
            error = f"{item.last_error or 'no answer'}; the deliverer stopped during the attempt"
            conn.execute(
                sa.update(notifications)
                .where(where)
                .values(next_attempt_at=None, gave_up_at=now, last_error=error)
            )
        else:
            attempt = item.attempts + 1
            lease = lease_until(attempt)
            conn.execute(
                sa.update(notifications)
                .where(where)
                .values(attempts=attempt, next_attempt_at=lease)
            )
            claimed = item.model_copy(update={"attempts": attempt, "next_attempt_at": lease})
            claims.append(Claim(claimed, attempt, str(row["url"]), str(row["secret"])))
    return claims


def record_delivered(conn: Connection, notification_id: int, *, at: datetime) -> bool:
    """Mark a notification delivered (once: False when it already was, or is gone)."""
    done = conn.execute(
        sa.update(notifications)
        .where(notifications.c.id == notification_id, notifications.c.delivered_at.is_(None))
        .values(delivered_at=at, next_attempt_at=None, last_error=None, gave_up_at=None)
    ).rowcount
    return bool(done)


def record_failure(
    conn: Connection,
    notification_id: int,
    *,
    attempt: int,
    error: str,
    at: datetime,
    retry_at: datetime | None,
) -> bool:
    """Record a failed attempt: due again at ``retry_at``, or given up when it is None.

    Only the attempt that holds the claim records its outcome (a later claim by another
    deliverer, after this one's lease expired, is left alone). Returns whether it did.
    """
    values: dict[str, Any] = {"last_error": error[:2000], "next_attempt_at": retry_at}
    if retry_at is None:
        values["gave_up_at"] = at
    done = conn.execute(
        sa.update(notifications)
        .where(
            notifications.c.id == notification_id,
            notifications.c.attempts == attempt,
            *_pending(),
        )
        .values(**values)
    ).rowcount
    return bool(done)


def retry_delivery(conn: Connection, notification_id: int, *, now: datetime) -> Notification:
    """Make a given-up (or cancelled) delivery due again now, with a fresh count of attempts.

    Raises
    ------
    NotFoundError
        When the notification does not exist.
    """
    get_notification(conn, notification_id)
    conn.execute(
        sa.update(notifications)
        .where(notifications.c.id == notification_id, notifications.c.delivered_at.is_(None))
        .values(attempts=0, next_attempt_at=now, gave_up_at=None)
    )
    return get_notification(conn, notification_id)


def list_deliveries(
    conn: Connection,
    *,
    state: Literal["failed", "pending", "delivered", "all"] = "failed",
    limit: int = 50,
    offset: int = 0,
) -> co.Page[Notification]:
    """Return one page of webhook deliveries in a state, newest first (for the staff).

    ``failed``: given up; ``pending``: due or in flight (with the last error, if any);
    ``delivered``; ``all``: every notification that had a delivery.
    """
    co.check_page(limit, offset)
    c = notifications.c
    states: dict[str, list[sa.ColumnElement[bool]]] = {
        "failed": [c.gave_up_at.is_not(None)],
        "pending": [c.next_attempt_at.is_not(None), *_pending()],
        "delivered": [c.delivered_at.is_not(None)],
        "all": [
            sa.or_(
                c.attempts > 0,
                c.next_attempt_at.is_not(None),
                c.gave_up_at.is_not(None),
                c.delivered_at.is_not(None),
            )
        ],
    }
    where = states[state]
    total = conn.execute(
        sa.select(sa.func.count()).select_from(notifications).where(*where)
    ).scalar_one()
    stmt = sa.select(*_N_COLUMNS).where(*where).order_by(c.id.desc()).limit(limit).offset(offset)
    items = [_from_row(row) for row in conn.execute(stmt).mappings()]
    return co.Page[Notification].model_construct(
        items=items, total=total, limit=limit, offset=offset
    )
