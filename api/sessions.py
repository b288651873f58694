"""Web sessions: the signed cookies, the CSRF tokens bound to them, and the sign-in throttle.

A session is a random token. The browser holds it in a cookie signed with the service's
secret (``itsdangerous``, timestamped, so a cookie older than the session's lifetime is refused
before any database read); the database holds only its SHA-256 (see
:mod:`geodata.storage.sessions`), so that logout, expiry and disabling the account end it on
every worker at the next request.

Every unsafe request authenticated by the cookie carries a CSRF token derived from the
session's token (an HMAC under the secret): a page of this service can put it in its forms,
another site cannot compute it. The login form, before any session exists, is protected the
same way by a short-lived signed cookie holding a random nonce.

The secret comes from the ``IMPLANTER_AUTH__SESSION_SECRET`` setting, else it is generated once
and kept in the database so that every worker signs alike. It is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from geodata.storage import sessions as store
from geodata.storage.sessions import Failures

from .settings import AuthSettings, Settings

if TYPE_CHECKING:
    from geodata.storage import Repository

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_COOKIE",
    "LOGIN_MAX_AGE",
    "SAFE_METHODS",
    "SESSION_COOKIE",
    "SessionKeys",
    "clock",
    "csrf_token",
    "delete_cookie",
    "hash_token",
    "new_token",
    "resolve_secret",
    "retry_after",
    "session_keys",
    "set_cookie",
    "throttle_keys",
]

SESSION_COOKIE = "implanter_session"
LOGIN_COOKIE = "implanter_login"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

#: How long the login form's CSRF cookie is valid (seconds).
LOGIN_MAX_AGE = 3600


def hash_token(token: str) -> str:
    """The hex SHA-256 of a session token, the only form in which it is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


class SessionKeys:
    """Everything signed with the service's secret: session and login cookies, CSRF tokens.

    Parameters
    ----------
    secret
        The signing secret.

    Examples
    --------
    >>> keys = SessionKeys("x" * 32)
    >>> cookie = keys.session_cookie("token-1")
    >>> keys.session_token(cookie, max_age=60)
    'token-1'
    >>> keys.session_token(cookie + "x", max_age=60) is None
    True
    >>> keys.csrf_matches("session", "token-1", keys.csrf("session", "token-1"))
    True
    >>> keys.csrf_matches("session", "token-2", keys.csrf("session", "token-1"))
    False
    """

    def __init__(self, secret: str) -> None:
        self._session = URLSafeTimedSerializer(secret, salt="implanter.session")
        self._login = URLSafeTimedSerializer(secret, salt="implanter.login")
        self._mac_key = hashlib.sha256(b"implanter.csrf\0" + secret.encode()).digest()

    def __repr__(self) -> str:  # never show the secret
        return "SessionKeys(***)"

    def session_cookie(self, token: str) -> str:
        """The value of the session cookie carrying ``token``."""
        return str(self._session.dumps(token))

    def session_token(self, cookie: str, *, max_age: int) -> str | None:
        """The token of a session cookie; None when forged, tampered with or too old."""
        return _loads(self._session, cookie, max_age)

    def login_cookie(self, nonce: str) -> str:
        """The value of the login form's cookie carrying ``nonce``."""
        return str(self._login.dumps(nonce))

    def login_nonce(self, cookie: str | None) -> str | None:
        """The nonce of a login cookie; None when absent, forged or older than an hour."""
        return None if not cookie else _loads(self._login, cookie, LOGIN_MAX_AGE)

    def csrf(self, purpose: str, value: str) -> str:
        """The CSRF token bound to a session token (``"session"``) or a login nonce."""
        message = f"{purpose}\0{value}".encode()
        return hmac.new(self._mac_key, message, hashlib.sha256).hexdigest()

    def csrf_matches(self, purpose: str, value: str, sent: str) -> bool:
        """Whether ``sent`` is the CSRF token of ``value`` (in constant time)."""
        return hmac.compare_digest(self.csrf(purpose, value), sent.strip())


def _loads(serializer: URLSafeTimedSerializer, cookie: str, max_age: int) -> str | None:
    try:
        value = serializer.loads(cookie, max_age=max_age)
    except BadSignature:  # also SignatureExpired
        return None
    return value if isinstance(value, str) else None


def resolve_secret(settings: AuthSettings, repo: Repository, now: datetime) -> str:
    """The signing secret: the setting, else the one generated once and kept in the database."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value()
    with repo.begin() as conn:
        return store.shared_secret(conn, "session", now=now)


def session_keys(request: Request) -> SessionKeys:
    """The app's signing keys (built in its lifespan)."""
    keys: SessionKeys = request.app.state.session_keys
    return keys


def clock(request: Request) -> datetime:
    """The current time as the app tells it (a test may move the app's clock)."""
    now: Callable[[], datetime] = getattr(request.app.state, "clock", _utc_now)
    return now()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def csrf_token(request: Request) -> str | None:
    """The CSRF token of the request's session (for a page's forms), None without one."""
    token: str | None = getattr(request.state, "session_token", None)
    return None if token is None else session_keys(request).csrf("session", token)


def _secure(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    base = settings.http.base_url or ""
    return request.url.scheme == "https" or base.startswith("https://")


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    """Set a cookie ``HttpOnly``, ``SameSite=Lax``, on the whole site, ``Secure`` over HTTPS."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def delete_cookie(response: Response, request: Request, name: str) -> None:
    """Expire a cookie set by :func:`set_cookie`."""
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=_secure(request))


def throttle_keys(email: str, client: str | None) -> tuple[str, str]:
    """The counter keys of a login attempt: the e-mail tried (hashed: an address that has no
    account is not stored in clear) and the client address."""
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return f"email:{digest}", f"ip:{client or 'unknown'}"[:80]


def retry_after(settings: AuthSettings, counted: list[tuple[int, Failures]], now: datetime) -> int:
    """Seconds before another attempt is allowed (0: allowed now).

    Each ``(threshold, failures)`` pair is a counter (the e-mail's, the address's). At the
    threshold the wait is ``login_delay_seconds``; it doubles with each further failure, up
    to ``login_max_delay_seconds``; it runs from the last failure.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> s = AuthSettings(login_max_failures=5, login_delay_seconds=30)
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> [retry_after(s, [(5, Failures(n, t))], t) for n in (4, 5, 6, 7)]
    [0, 30, 60, 120]
    """
    wait = 0.0
    for threshold, failures in counted:
        if failures.count < threshold:
            continue
        delay = min(
            settings.login_delay_seconds * 2 ** min(failures.count - threshold, 30),
            settings.login_max_delay_seconds,
        )
        until = failures.last_failed_at + timedelta(seconds=delay)
        wait = max(wait, (until - now).total_seconds())
    return math.ceil(wait) if wait > 0 else 0


def new_token() -> str:
    """A new random session token or login nonce (256 bits)."""
    return secrets.token_urlsafe(32)
