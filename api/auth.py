"""Who is calling: password hashes, API keys, and the dependencies that name the account.

Passwords are hashed with argon2id (``argon2-cffi``, its default parameters). API keys are
random (256 bits), shown once at creation and stored as their SHA-256 hash only: a key is
high-entropy, so a fast hash is enough and lets each request find its key in one lookup.
Neither ever appears in a response (except the key once, at creation) nor in a log.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from geodata.storage import accounts
from geodata.storage.accounts import Account

from .deps import RepoDep
from .errors import problem

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from sqlalchemy.engine import Connection

__all__ = [
    "KEY_PREFIX",
    "LAST_USED_RESOLUTION",
    "AuthError",
    "CurrentAccount",
    "IssuedKey",
    "OptionalAccount",
    "add_auth_handler",
    "can_edit",
    "forbid",
    "get_current_account",
    "get_optional_account",
    "hash_key",
    "hash_password",
    "issue_key",
    "new_key",
    "verify_password",
]

#: A key's ``last_used_at`` is refreshed when it is older than this.
LAST_USED_RESOLUTION = timedelta(minutes=1)

#: Every key starts with this, so that a leaked one is easy to recognise (secret scanners).
KEY_PREFIX = "imp_"

_hasher = PasswordHasher()  # argon2id
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer imp_…`")


class AuthError(Exception):
    """No credentials, or bad ones: answered 401 with ``WWW-Authenticate: Bearer``."""


def hash_password(password: str) -> str:
    """Return the argon2id hash of a password (with its own random salt)."""
    if len(password) < 10:
        msg = "password: at least 10 characters"
        raise ValueError(msg)
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Tell whether a password matches a stored hash (False when there is no hash)."""
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_key(key: str) -> str:
    """Return the hex SHA-256 of an API key, the only form in which it is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """Return a new random API key and its prefix (its first 12 characters, for listings)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[:12]


class IssuedKey(accounts.ApiKey):
    """A key just created: its record and, this once, the key itself."""

    key: str


def issue_key(conn: Connection, account_id: int, *, label: str | None = None) -> IssuedKey:
    """Create an API key for an account in the caller's transaction; the key is shown once."""
    key, prefix = new_key()
    record = accounts.add_api_key(
        conn, account_id, key_hash=hash_key(key), prefix=prefix, label=label
    )
    return IssuedKey(**record.model_dump(), key=key)


def get_optional_account(
    request: Request,
    repo: RepoDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Account | None:
    """The account of the request's API key, None without a key; a bad key is a 401.

    A request that sends a key that is unknown, revoked or of a disabled account is refused
    rather than served as anonymous, so that a client learns its key no longer works.
    """
    if credentials is None:
        if request.headers.get("authorization"):
            msg = "Authorization: use the Bearer scheme with an API key"
            raise AuthError(msg)
        return None
    with repo.connect() as conn:
        found = accounts.account_for_key(conn, hash_key(credentials.credentials))
    if found is None:
        msg = (
            "Authorization: this API key is unknown, revoked, or its account is disabled; "
            "ask for a new key"
        )
        raise AuthError(msg)
    account, key = found
    # Record the use at most once a minute: a read with a key then takes no write lock.
    now = datetime.now(UTC)
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        with repo.begin() as conn:
            accounts.touch_api_key(conn, key.id, now)
    request.state.account = account
    return account


OptionalAccount = Annotated[Account | None, Depends(get_optional_account)]


def get_current_account(account: OptionalAccount) -> Account:
    """The account of the request's API key; 401 without one."""
    if account is None:
        msg = "Authorization: this route needs an API key (Authorization: Bearer imp_…)"
        raise AuthError(msg)
    return account


CurrentAccount = Annotated[Account, Depends(get_current_account)]


def can_edit(account: Account | None, owner_account: str | None) -> bool:
    """Whether an account may see the full listing and edit it: staff, or its owner."""
    if account is None:
        return False
    return account.role == "staff" or (
        account.role == "developer" and owner_account is not None and owner_account == account.name
    )


def forbid(detail: str) -> HTTPException:
    """A 403 naming what the account may not do."""
    return HTTPException(status_code=403, detail=detail)


def add_auth_handler(app: FastAPI) -> None:
    """Answer :class:`AuthError` with a problem+json 401 and ``WWW-Authenticate: Bearer``."""

    @app.exception_handler(AuthError)
    async def _unauthorized(request: Request, exc: AuthError) -> JSONResponse:
        response = problem(401, str(exc), instance=request.url.path)
        response.headers["WWW-Authenticate"] = 'Bearer realm="implanter"'
        return response
