"""Accounts and their API keys, over a caller's connection.

An account has a role (``staff``, ``developer`` or ``company``), a unique ``name`` (the handle
written in a listing's ``owner_account``) and a unique e-mail. Secrets never reach this module
in clear: it stores the password hash and the API key hash the caller computed
(:mod:`api.auth` does it with argon2id and SHA-256) and never returns either.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from geodata.storage import _common as co
from geodata.storage._tables import ROLES, accounts, api_keys, web_sessions
from geodata.storage.errors import StorageError

__all__ = [
    "Account",
    "AccountError",
    "ApiKey",
    "Role",
    "account_for_key",
    "add_api_key",
    "create_account",
    "find_account",
    "list_accounts",
    "list_api_keys",
    "password_hash_of",
    "revoke_api_key",
    "set_disabled",
    "set_password_hash",
    "touch_api_key",
]

Role = Literal["staff", "developer", "company"]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,119}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(StorageError, ValueError):
    """An account or key was refused or not found; the message names the field and the fix."""


class Account(BaseModel):
    """An account as the service shows it (never its password hash)."""

    id: int
    name: str
    email: str
    role: Role
    disabled: bool
    created_at: datetime


class ApiKey(BaseModel):
    """An API key's record: its prefix (to tell keys apart), never the key nor its hash."""

    id: int
    account_id: int
    prefix: str
    label: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


_ACCOUNT_COLUMNS = [accounts.c[name] for name in Account.model_fields]
_KEY_COLUMNS = [api_keys.c[name] for name in ApiKey.model_fields]


def create_account(
    conn: Connection,
    *,
    name: str,
    email: str,
    role: str,
    password_hash: str | None = None,
) -> Account:
    """Store a new account.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    name : str
        The handle (lower case letters, digits, ``. _ @ + -``; up to 120 characters).
    email : str
        The e-mail address (stored in lower case).
    role : {"staff", "developer", "company"}
        What the account may do.
    password_hash : str, optional
        The hash of its password (``None``: it signs in with API keys only).

    Raises
    ------
    AccountError
        When a field is malformed or the name or e-mail is already taken.
    """
    name = name.strip().lower()
    email = email.strip().lower()
    if role not in ROLES:
        msg = f"role: {role!r} is not a role; use one of {', '.join(ROLES)}"
        raise AccountError(msg)
    if not _EMAIL_RE.match(email) or len(email) > 200:
        msg = f"email: {email!r} is not an e-mail address"
        raise AccountError(msg)
    if not _NAME_RE.match(name):
        msg = (
            f"name: {name!r} is not a handle; use 1 to 120 lower-case letters, digits "
            "and . _ @ + - (starting with a letter or digit)"
        )
        raise AccountError(msg)
    for column, value in (("name", name), ("email", email)):
        taken = conn.execute(sa.select(accounts.c.id).where(accounts.c[column] == value)).first()
        if taken is not None:
            msg = f"{column}: {value!r} already belongs to account {taken[0]}; choose another"
            raise AccountError(msg)
    row = {
        "name": name,
        "email": email,
        "role": role,
        "password_hash": password_hash,
        "disabled": False,
        "created_at": co.now(),
    }
    new_id = conn.execute(sa.insert(accounts).values(**row).returning(accounts.c.id)).scalar_one()
    return Account.model_validate({**row, "id": new_id})


def _account_where(ref: int | str) -> sa.ColumnElement[bool]:
    if isinstance(ref, int):
        return accounts.c.id == ref
    ref = ref.strip().lower()
    return sa.or_(accounts.c.email == ref, accounts.c.name == ref)


def find_account(conn: Connection, ref: int | str) -> Account:
    """Return the account with this id, e-mail or name.

    Raises
    ------
    AccountError
        When there is none.
    """
    row = conn.execute(sa.select(*_ACCOUNT_COLUMNS).where(_account_where(ref))).mappings().first()
    if row is None:
        msg = f"account: no account {ref!r}; `implanter accounts list` shows them"
        raise AccountError(msg)
    return Account.model_validate(row)


def password_hash_of(conn: Connection, email: str) -> tuple[Account, str | None] | None:
    """Return an enabled account and its password hash by e-mail, or None (to verify a login)."""
    stmt = sa.select(*_ACCOUNT_COLUMNS, accounts.c.password_hash).where(
        accounts.c.email == email.strip().lower(), accounts.c.disabled.is_(False)
    )
    row = conn.execute(stmt).mappings().first()
    if row is None:
        return None
    return Account.model_validate(row), row["password_hash"]


def list_accounts(conn: Connection, *, role: str | None = None) -> list[Account]:
    """Return the accounts, by id, of one role when ``role`` is given."""
    stmt = sa.select(*_ACCOUNT_COLUMNS).order_by(accounts.c.id)
    if role is not None:
        stmt = stmt.where(accounts.c.role == role)
    return [Account.model_validate(row) for row in conn.execute(stmt).mappings()]


def set_password_hash(conn: Connection, ref: int | str, password_hash: str) -> Account:
    """Replace an account's password (its hash) and end its web sessions, so that a session
    opened with the old password does not outlive it.

    Raises
    ------
    AccountError
        When there is no such account.
    """
    account = find_account(conn, ref)
    conn.execute(
        sa.update(accounts).where(accounts.c.id == account.id).values(password_hash=password_hash)
    )
    conn.execute(
        sa.update(web_sessions)
        .where(web_sessions.c.account_id == account.id, web_sessions.c.ended_at.is_(None))
        .values(ended_at=co.now())
    )
    return account


def set_disabled(conn: Connection, ref: int | str, *, disabled: bool = True) -> Account:
    """Disable (or enable again) an account: a disabled account's keys and password fail.

    Disabling also ends the account's web sessions, so that enabling it again later does not
    bring an old session cookie back to life.

    Raises
    ------
    AccountError
        When there is no such account.
    """
    account = find_account(conn, ref)
    conn.execute(sa.update(accounts).where(accounts.c.id == account.id).values(disabled=disabled))
    if disabled:
        conn.execute(
            sa.update(web_sessions)
            .where(web_sessions.c.account_id == account.id, web_sessions.c.ended_at.is_(None))
            .values(ended_at=co.now())
        )
    return account.model_copy(update={"disabled": disabled})


def add_api_key(
    conn: Connection, account_id: int, *, key_hash: str, prefix: str, label: str | None = None
) -> ApiKey:
    """Record a new API key of an account by its hash.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    account_id : int
        The account the key acts for.
    key_hash : str
        The key's hash (hex SHA-256), the only form in which the key is kept.
    prefix : str
        Its first characters, shown in listings.
    label : str, optional
        What the key is for.
    """
    find_account(conn, account_id)
    row: dict[str, Any] = {
        "account_id": account_id,
        "prefix": prefix,
        "key_hash": key_hash,
        "label": label,
        "created_at": co.now(),
        "last_used_at": None,
        "revoked_at": None,
    }
    new_id = conn.execute(sa.insert(api_keys).values(**row).returning(api_keys.c.id)).scalar_one()
    return ApiKey.model_validate({**row, "id": new_id})


def list_api_keys(conn: Connection, account_id: int | None = None) -> list[ApiKey]:
    """Return the keys (revoked ones included), of one account when given, by id."""
    stmt = sa.select(*_KEY_COLUMNS).order_by(api_keys.c.id)
    if account_id is not None:
        stmt = stmt.where(api_keys.c.account_id == account_id)
    return [ApiKey.model_validate(row) for row in conn.execute(stmt).mappings()]


def revoke_api_key(conn: Connection, key: int | str) -> ApiKey:
    """Revoke a key, named by its id or its prefix; a revoked key never works again.

    Raises
    ------
    AccountError
        When no key, or more than one, has this id or prefix.
    """
    where = api_keys.c.id == key if isinstance(key, int) else api_keys.c.prefix == key
    rows = conn.execute(sa.select(*_KEY_COLUMNS).where(where)).mappings().all()
    if len(rows) != 1:
        found = "no key" if not rows else f"{len(rows)} keys"
        msg = f"key: {found} with id or prefix {key!r}; `implanter keys list` shows them"
        raise AccountError(msg)
    record = ApiKey.model_validate(rows[0])
    if record.revoked_at is None:
        at = co.now()
        conn.execute(sa.update(api_keys).where(api_keys.c.id == record.id).values(revoked_at=at))
        record = record.model_copy(update={"revoked_at": at})
    return record


def account_for_key(conn: Connection, key_hash: str) -> tuple[Account, ApiKey] | None:
    """Return the enabled account of a live key, with the key's record, or None.

    A read only: the caller records the use with :func:`touch_api_key` when it wants to.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        An open connection.
    key_hash : str
        The hash of the key a client presented.
    """
    key_columns = [c.label(f"key_{c.name}") for c in _KEY_COLUMNS]
    stmt = (
        sa.select(*_ACCOUNT_COLUMNS, *key_columns)
        .join(api_keys, api_keys.c.account_id == accounts.c.id)
        .where(
            api_keys.c.key_hash == key_hash,
            api_keys.c.revoked_at.is_(None),
            accounts.c.disabled.is_(False),
        )
    )
    row = conn.execute(stmt).mappings().first()
    if row is None:
        return None
    key = ApiKey.model_validate({c.name: row[f"key_{c.name}"] for c in _KEY_COLUMNS})
    return Account.model_validate(row), key


def touch_api_key(conn: Connection, key_id: int, at: datetime | None = None) -> None:
    """Record that a key was used (now, or at ``at``)."""
    at = at if at is not None else co.now()
    conn.execute(sa.update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=at))
