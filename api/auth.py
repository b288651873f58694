"""Who is calling: password hashes, API keys, and the dependencies that name the account.

Passwords are hashed with argon2id (``argon2-cffi``, its default parameters). API keys are
random (256 bits), shown once at creation and stored as their SHA-256 hash only: a key is
high-entropy, so a fast hash is enough and lets each request find its key in one lookup.
Neither ever appears in a response (except the key once, at creation) nor in a log.

A request is authenticated by its bearer key first, else by the web session cookie (see
:mod:`api.sessions`); an unsafe request (POST, PATCH, PUT, DELETE) authenticated by the cookie
must also carry the session's CSRF token, in the ``X-CSRF-Token`` header or the ``csrf_token``
form field, or it is refused with a 403. Bearer requests need none: a browser never adds a
key by itself.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from geodata.storage import Repository, accounts, sessions
from geodata.storage.accounts import Account

from . import sessions as web
from .deps import RepoDep
from .errors import ProblemError, Text, problem, request_language

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
    "check_password",
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
_session_cookie = APIKeyCookie(
    name=web.SESSION_COOKIE,
    auto_error=False,
    scheme_name="SessionCookie",
    description="The web session opened at /login (pages); an unsafe request (POST, PATCH, "
    f"PUT, DELETE) must also send the session's CSRF token in `{web.CSRF_HEADER}` or the "
    "`csrf_token` form field.",
)
#: ``openapi_extra`` of a route that reads the caller's account when there is one
#: (:data:`OptionalAccount`) but serves anonymous callers too: ``{}`` is "no security".
OPTIONAL_AUTH: dict[str, Any] = {
    "security": [{}, {"HTTPBearer": []}, {_session_cookie.scheme_name: []}]
}


class AuthError(Exception):
    """No credentials, or bad ones: answered 401 with ``WWW-Authenticate: Bearer``.

    Parameters
    ----------
    text
        The message, in French and English.
    """

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text


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


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, verified when the account is missing (same work)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def check_password(password_hash: str | None, password: str) -> bool:
    """Verify a login's password, spending the same argon2 work whether or not there is an
    account (or a password) to check against, so that timing does not tell them apart."""
    if not password_hash:
        verify_password(_dummy_hash(), password)
        return False
    return verify_password(password_hash, password)


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


async def _csrf_sent(request: Request) -> str | None:
    """The CSRF token an unsafe request carries: the header, else the form field."""
    if request.method in web.SAFE_METHODS:
        return None
    header = request.headers.get(web.CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if web.SESSION_COOKIE in request.cookies and content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(web.CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


CsrfSent = Annotated[str | None, Depends(_csrf_sent)]


async def get_optional_account(
    request: Request,
    repo: RepoDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    session_cookie: Annotated[str | None, Depends(_session_cookie)],
    csrf_sent: CsrfSent,
) -> Account | None:
    """The account of the request's API key, else of its session cookie; None without either.

    A request that sends a key that is unknown, revoked or of a disabled account is refused
    (401) rather than served as anonymous, so that a client learns its key no longer works.
    A session cookie that is no longer valid (expired, logged out, account disabled) makes
    the request anonymous; routes that need an account then say the session ended.
    """
    if credentials is None:
        if request.headers.get("authorization"):
            raise AuthError(
                Text(
                    "Authorization : utilisez le schéma Bearer avec une clé d'API "
                    "(Authorization: Bearer imp_…).",
                    "Authorization: use the Bearer scheme with an API key",
                )
            )
        if not session_cookie:
            return None
        # The session's lookup reads the database: off the event loop.
        return await run_in_threadpool(_session_account, request, repo, session_cookie, csrf_sent)
    return await run_in_threadpool(_key_account, request, repo, credentials.credentials)


def _key_account(request: Request, repo: Repository, key_text: str) -> Account:
    """The account of an API key (401 when unknown, revoked or disabled); its use recorded."""
    with repo.connect() as conn:
        found = accounts.account_for_key(conn, hash_key(key_text))
    if found is None:
        raise AuthError(
            Text(
                "Authorization : cette clé d'API est inconnue, révoquée, ou son compte est "
                "désactivé ; demandez une nouvelle clé.",
                "Authorization: this API key is unknown, revoked, or its account is disabled; "
                "ask for a new key",
            )
        )
    account, key = found
    # Record the use at most once a minute: a read with a key then takes no write lock.
    now = datetime.now(UTC)
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        with repo.begin() as conn:
            accounts.touch_api_key(conn, key.id, now)
    request.state.account = account
    return account


def _session_account(
    request: Request, repo: Repository, cookie: str | None, csrf_sent: str | None
) -> Account | None:
    """The account of a live session cookie, checking the CSRF token of an unsafe request."""
    if not cookie:
        return None
    keys = web.session_keys(request)
    max_age = request.app.state.settings.auth.session_max_age_seconds
    token = keys.session_token(cookie, max_age=max_age)
    account = None
    if token is not None:
        with repo.connect() as conn:
            account = sessions.account_for_session(
                conn, web.hash_token(token), now=web.clock(request)
            )
    if token is None or account is None:
        request.state.session_ended = True
        return None
    if request.method not in web.SAFE_METHODS:
        _check_csrf(keys, token, csrf_sent)
    request.state.account = account
    request.state.session_token = token
    return account


def _check_csrf(keys: web.SessionKeys, token: str, sent: str | None) -> None:
    if not sent:
        raise ProblemError(
            403,
            Text(
                f"{web.CSRF_HEADER} : jeton CSRF manquant ; une requête d'écriture faite avec "
                f"la session de connexion doit porter le jeton de la session, dans l'en-tête "
                f"{web.CSRF_HEADER} ou le champ de formulaire {web.CSRF_FIELD}.",
                f"{web.CSRF_HEADER}: missing CSRF token; a write request made with the sign-in "
                f"session must carry the session's token, in the {web.CSRF_HEADER} header or "
                f"the {web.CSRF_FIELD} form field.",
            ),
        )
    if not keys.csrf_matches("session", token, sent):
        raise ProblemError(
            403,
            Text(
                f"{web.CSRF_HEADER} : ce jeton CSRF n'est pas celui de votre session ; "
                "rechargez la page (ou reconnectez-vous) et renvoyez la requête.",
                f"{web.CSRF_HEADER}: this CSRF token is not your session's; reload the page "
                "(or sign in again) and send the request again.",
            ),
        )


OptionalAccount = Annotated[Account | None, Depends(get_optional_account)]


async def get_current_account(request: Request, account: OptionalAccount) -> Account:
    """The account of the request's API key or session; 401 without one."""
    if account is None:
        if getattr(request.state, "session_ended", False):
            raise AuthError(
                Text(
                    "Session : votre session a expiré ou a été fermée ; reconnectez-vous sur "
                    "/login, ou utilisez une clé d'API (Authorization: Bearer imp_…).",
                    "Session: your session has expired or was closed; sign in again at "
                    "/login, or use an API key (Authorization: Bearer imp_…).",
                )
            )
        raise AuthError(
            Text(
                "Authorization : cette route demande une clé d'API (Authorization: Bearer "
                "imp_…) ou une session ouverte sur /login.",
                "Authorization: this route needs an API key (Authorization: Bearer imp_…) "
                "or a session opened at /login",
            )
        )
    return account


CurrentAccount = Annotated[Account, Depends(get_current_account)]


def can_edit(account: Account | None, owner_account: str | None) -> bool:
    """Whether an account may see the full listing and edit it: staff, or its owner."""
    if account is None:
        return False
    return account.role == "staff" or (
        account.role == "developer" and owner_account is not None and owner_account == account.name
    )


def require_role(account: Account, roles: tuple[str, ...], why: str | Text) -> Account:
    """The account when its role is one of ``roles``; else a 403 saying ``why``.

    Examples
    --------
    >>> staff = Account.model_construct(name="eco", role="staff")
    >>> require_role(staff, ("staff",), "only staff").name
    'eco'
    >>> require_role(staff, ("developer",), "only developers")
    Traceback (most recent call last):
    ...
    fastapi.exceptions.HTTPException: 403: only developers
    """
    if account.role not in roles:
        raise forbid(why)
    return account


def forbid(detail: str | Text) -> StarletteHTTPException:
    """A 403 naming what the account may not do (in both languages when given a Text)."""
    if isinstance(detail, Text):
        return ProblemError(403, detail)
    return HTTPException(status_code=403, detail=detail)


def add_auth_handler(app: FastAPI) -> None:
    """Answer :class:`AuthError` with a problem+json 401 and ``WWW-Authenticate: Bearer``."""

    @app.exception_handler(AuthError)
    async def _unauthorized(request: Request, exc: AuthError) -> JSONResponse:
        lang = request_language(request.headers, request.url.query)
        request_id = getattr(request.state, "request_id", None)
        extra = {"request_id": request_id} if request_id else {}
        detail = exc.text(lang)
        field, _, reason = detail.partition(" : " if lang == "fr" else ": ")
        response = problem(
            401,
            detail,
            lang=lang,
            instance=request.url.path,
            errors=[{"field": field, "reason": reason}] if reason else None,
            **extra,
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="implanter"'
        return response
