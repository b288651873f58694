"""Web sign-in: ``GET /login`` (the form), ``POST /login`` (opens a session), ``POST /logout``.

The form is in French, in English with ``?lang=en`` or ``Accept-Language``. A browser (that
accepts ``text/html``) gets pages and redirects; any other client gets JSON and problem+json.
Failed logins are counted per e-mail and per client address in the database, so every worker
slows the same attacker: past ``login_max_failures`` the next attempt waits, longer each time
(429 with ``Retry-After``). The answer to a failure never tells whether the e-mail has an
account, and the password is checked with the same work either way.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from geodata.storage import accounts, sessions
from geodata.storage.accounts import Account

from .. import sessions as web
from ..auth import OPTIONAL_AUTH, OptionalAccount, check_password
from ..deps import RepoDep, SettingsDep
from ..errors import PROBLEM_JSON, Lang, ProblemError, Text, request_language
from ..pages import render

__all__ = ["SignedIn", "router"]

logger = logging.getLogger(__name__)

router = APIRouter(tags=["sign-in"])


_PROBLEM = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


class SignedIn(BaseModel):
    """A session just opened: who, until when, and the CSRF token its writes must carry."""

    account: Account
    csrf_token: str
    expires_in: int


def _lang(request: Request) -> Lang:
    return request_language(request.headers, request.url.query)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _safe_next(target: str | None) -> str:
    """Where to go after sign-in: a path of this site only (never ``//host`` or a URL)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def _form_page(
    request: Request,
    lang: Lang,
    *,
    account: Account | None = None,
    error: str | None = None,
    email: str = "",
    next_path: str = "/",
    status_code: int = 200,
) -> Response:
    """The sign-in page, with a login CSRF token bound to the browser's login cookie."""
    keys = web.session_keys(request)
    nonce = keys.login_nonce(request.cookies.get(web.LOGIN_COOKIE)) or web.new_token()
    response: Response = render(
        request,
        "login.html",
        lang,
        account=account,
        error=error,
        email=email,
        next_path=next_path,
        csrf_token=keys.csrf("login", nonce),
        session_csrf=web.csrf_token(request),
    )
    response.status_code = status_code
    web.set_cookie(response, request, web.LOGIN_COOKIE, keys.login_cookie(nonce), web.LOGIN_MAX_AGE)
    return response


@router.get("/login", response_class=HTMLResponse, openapi_extra=OPTIONAL_AUTH)
def login_form(request: Request, account: OptionalAccount, next: str | None = None) -> Response:
    """The sign-in form (or, when signed in, who you are and a sign-out button)."""
    return _form_page(request, _lang(request), account=account, next_path=_safe_next(next))


def _refuse(
    request: Request,
    status: int,
    text: Text,
    *,
    email: str = "",
    next_path: str = "/",
    headers: dict[str, str] | None = None,
) -> Response:
    """A refused sign-in: the form again with the message for a browser, else a problem."""
    lang = _lang(request)
    if not _wants_html(request):
        raise ProblemError(status, text, headers=headers)
    response = _form_page(
        request, lang, error=text(lang), email=email, next_path=next_path, status_code=status
    )
    response.headers.update(headers or {})
    return response


@router.post(
    "/login",
    response_model=SignedIn,
    responses={
        303: {"description": "Signed in (browser): redirected to `next`"},
        401: {
            "description": "Wrong e-mail or password (the same answer for both)",
            "content": _PROBLEM,
        },
        403: {"description": "The form's CSRF token is missing or stale", "content": _PROBLEM},
        429: {
            "description": "Too many failed sign-ins: wait `Retry-After` seconds",
            "content": _PROBLEM,
        },
    },
)
def login(
    request: Request,
    repo: RepoDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Any:
    """Check the e-mail and password and open a session (signed cookie, ``HttpOnly``)."""
    auth = settings.auth
    keys = web.session_keys(request)
    next_path = _safe_next(next)
    nonce = keys.login_nonce(request.cookies.get(web.LOGIN_COOKIE))
    if nonce is None or not keys.csrf_matches("login", nonce, csrf_token):
        text = Text(
            "csrf_token : le formulaire de connexion a expiré, ou les cookies sont bloqués ; "
            "rechargez la page /login, puis réessayez.",
            "csrf_token: the sign-in form has expired, or cookies are blocked; reload the "
            "/login page, then try again.",
        )
        return _refuse(request, 403, text, email=email, next_path=next_path)
    now = web.clock(request)
    email_key, ip_key = web.throttle_keys(email, request.client.host if request.client else None)
    with repo.connect() as conn:
        counted = sessions.failures_of(conn, [email_key, ip_key])
        found = accounts.password_hash_of(conn, email)
    limits = [(auth.login_max_failures, email_key), (auth.login_max_failures_per_ip, ip_key)]
    wait = web.retry_after(auth, [(n, counted[k]) for n, k in limits if k in counted], now)
    if wait:
        logger.warning("sign-in refused: too many failures, retry in %d s", wait)
        text = Text(
            f"Trop d'échecs de connexion : réessayez dans {wait} secondes.",
            f"Too many failed sign-ins: try again in {wait} seconds.",
        )
        return _refuse(
            request, 429, text, email=email, next_path=next_path, headers={"Retry-After": str(wait)}
        )
    password_hash = found[1] if found is not None else None
    if found is None or not check_password(password_hash, password):
        window = timedelta(seconds=auth.login_window_seconds)
        with repo.begin() as conn:
            sessions.record_failure(conn, [email_key, ip_key], now=now, window=window)
        logger.warning("sign-in refused: wrong e-mail or password")
        text = Text(
            "password : e-mail ou mot de passe incorrect ; vérifiez-les et réessayez.",
            "password: wrong e-mail or password; check them and try again.",
        )
        return _refuse(request, 401, text, email=email, next_path=next_path)
    account = found[0]
    token = web.new_token()
    with repo.begin() as conn:
        sessions.clear_failures(conn, email_key)
        sessions.create_session(
            conn,
            token_hash=web.hash_token(token),
            account_id=account.id,
            now=now,
            expires_at=now + timedelta(seconds=auth.session_max_age_seconds),
        )
    logger.info("signed in: account %d", account.id)
    response: Response
    if _wants_html(request):
        response = RedirectResponse(next_path, status_code=303)
    else:
        signed = SignedIn(
            account=account,
            csrf_token=keys.csrf("session", token),
            expires_in=auth.session_max_age_seconds,
        )
        response = JSONResponse(signed.model_dump(mode="json"))
    cookie = keys.session_cookie(token)
    web.set_cookie(response, request, web.SESSION_COOKIE, cookie, auth.session_max_age_seconds)
    web.delete_cookie(response, request, web.LOGIN_COOKIE)
    return response


@router.post(
    "/logout",
    status_code=204,
    response_class=Response,
    openapi_extra=OPTIONAL_AUTH,
    responses={
        303: {"description": "Signed out (browser): redirected to the sign-in page"},
        403: {"description": "The session's CSRF token is missing or wrong", "content": _PROBLEM},
    },
)
def logout(request: Request, repo: RepoDep, account: OptionalAccount) -> Response:
    """End the session of the cookie (its CSRF token required) and expire the cookie."""
    token: str | None = getattr(request.state, "session_token", None)
    if token is not None:
        with repo.begin() as conn:
            sessions.end_session(conn, web.hash_token(token), now=web.clock(request))
    response: Response
    if _wants_html(request):
        response = RedirectResponse(f"/login?lang={_lang(request)}", status_code=303)
    else:
        response = Response(status_code=204)
    web.delete_cookie(response, request, web.SESSION_COOKIE)
    return response
