"""Web sign-in state shared by every worker: a generated secret, sessions, failed-login counts.

Like :mod:`geodata.storage.accounts`, nothing secret reaches this module in clear except the
generated signing secret itself: sessions are stored by the hash of their token, and failed
logins by a key the caller derived (a hash of the e-mail tried, a client address).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from geodata.storage._tables import accounts, app_secrets, login_throttle, web_sessions
from geodata.storage.accounts import Account

__all__ = [
    "Failures",
    "account_for_session",
    "clear_failures",
    "create_session",
    "end_account_sessions",
    "end_session",
    "failures_of",
    "record_failure",
    "shared_secret",
]


def _insert(conn: Connection, table: sa.Table) -> Any:
    """An ``INSERT`` that can say ``ON CONFLICT`` (the same API on both backends)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def shared_secret(conn: Connection, name: str, *, now: datetime) -> str:
    """Return the secret stored under ``name``, generating and storing it the first time.

    Two workers starting together agree: the first insert wins, the other reads it back.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    name : str
        What the secret is for (``"session"``).
    now : datetime
        The creation time recorded with a new secret.
    """
    value = secrets.token_urlsafe(48)
    stmt = _insert(conn, app_secrets).values(name=name, value=value, created_at=now)
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))
    stored: str = conn.execute(
        sa.select(app_secrets.c.value).where(app_secrets.c.name == name)
    ).scalar_one()
    return stored


def create_session(
    conn: Connection, *, token_hash: str, account_id: int, now: datetime, expires_at: datetime
) -> int:
    """Record a new session of an account by its token's hash; return its id.

    The account's sessions that have expired are deleted on the way, so the table stays small.
    """
    conn.execute(
        sa.delete(web_sessions).where(
            web_sessions.c.account_id == account_id, web_sessions.c.expires_at < now
        )
    )
    stmt = (
        sa.insert(web_sessions)
        .values(token_hash=token_hash, account_id=account_id, created_at=now, expires_at=expires_at)
        .returning(web_sessions.c.id)
    )
    new_id: int = conn.execute(stmt).scalar_one()
    return new_id


def account_for_session(conn: Connection, token_hash: str, *, now: datetime) -> Account | None:
    """Return the enabled account of a live session (not ended, not expired), or None."""
    columns = [accounts.c[name] for name in Account.model_fields]
    stmt = (
        sa.select(*columns)
        .join(web_sessions, web_sessions.c.account_id == accounts.c.id)
        .where(
            web_sessions.c.token_hash == token_hash,
            web_sessions.c.ended_at.is_(None),
            web_sessions.c.expires_at > now,
            accounts.c.disabled.is_(False),
        )
    )
    row = conn.execute(stmt).mappings().first()
    return None if row is None else Account.model_validate(row)


def end_session(conn: Connection, token_hash: str, *, now: datetime) -> None:
    """End one session (logout): its cookie no longer signs anyone in."""
    conn.execute(
        sa.update(web_sessions)
        .where(web_sessions.c.token_hash == token_hash, web_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )


def end_account_sessions(conn: Connection, account_id: int, *, now: datetime) -> int:
    """End every open session of an account; return how many were open."""
    result = conn.execute(
        sa.update(web_sessions)
        .where(web_sessions.c.account_id == account_id, web_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class Failures:
    """The failed logins counted under one key: how many, and the last one's time."""

    count: int
    last_failed_at: datetime


def failures_of(conn: Connection, keys: list[str]) -> dict[str, Failures]:
    """Return the failure counts recorded under these keys (keys without failures are absent).

    Whether a count still matters (how long ago it was) is the caller's rule.
    """
    rows = conn.execute(sa.select(login_throttle).where(login_throttle.c.key.in_(keys))).mappings()
    return {row["key"]: Failures(row["failures"], row["last_failed_at"]) for row in rows}


def record_failure(
    conn: Connection, keys: list[str], *, now: datetime, window: timedelta
) -> dict[str, Failures]:
    """Count one more failed login under each key; return the new counts.

    A key quiet for longer than ``window`` starts again at one. One statement per key
    (``INSERT ... ON CONFLICT DO UPDATE``), so that concurrent workers never lose a count.
    """
    table = login_throttle
    out = {}
    for key in keys:
        stmt = _insert(conn, table).values(key=key, failures=1, last_failed_at=now)
        stale = table.c.last_failed_at <= now - window
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "failures": sa.case((stale, 1), else_=table.c.failures + 1),
                "last_failed_at": now,
            },
        ).returning(table.c.failures, table.c.last_failed_at)
        count, last = conn.execute(stmt).one()
        out[key] = Failures(count, last)
    return out


def clear_failures(conn: Connection, key: str) -> None:
    """Forget the failures counted under a key (after a successful login)."""
    conn.execute(sa.delete(login_throttle).where(login_throttle.c.key == key))
