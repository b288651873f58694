"""Web sign-in: the form, the session cookie, CSRF, logout, disabling, and the login throttle.

Every test runs on SQLite and on PostGIS, through the real app with its lifespan entered;
the throttle's waits are checked by moving the app's clock, never by sleeping.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from pydantic import SecretStr

from api.auth import hash_password, issue_key
from api.main import create_app
from api.sessions import LOGIN_COOKIE, SESSION_COOKIE
from api.settings import AuthSettings
from geodata.storage import Repository, accounts
from tests.api.conftest import backend_url, empty_settings
from tests.conftest import BACKENDS

PASSWORD = "correct horse battery"

_ips = count(1)


def _sample(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Atelier de test",
        "kind": "workshop",
        "uses": ["craft"],
        "surface_m2": 450,
        "tenure": "rent",
        "rent_eur_m2_year": 110,
        "lon": 2.3920,
        "lat": 48.7870,
        **extra,
    }


@dataclass
class Site:
    """The app on one backend, with a developer, a company and a staff account."""

    app: Any
    repo: Repository
    emails: dict[str, str]
    key: str  # the developer's API key

    def browser(self, *, https: bool = False) -> TestClient:
        """A new client with its own cookie jar, from its own client address."""
        base = "https://testserver" if https else "http://testserver"
        return TestClient(self.app, base_url=base, client=(f"10.0.{next(_ips)}.1", 40000))

    @contextmanager
    def clock_at(self, start: datetime) -> Iterator[list[datetime]]:
        """Freeze the app's clock at ``start``; move it by changing the yielded cell."""
        cell = [start]
        saved = self.app.state.clock
        self.app.state.clock = lambda: cell[0]
        try:
            yield cell
        finally:
            self.app.state.clock = saved


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    with backend_url(request, tmp_path_factory, "login") as url:
        settings = empty_settings(url)
        app = create_app(settings)
        with TestClient(app):
            repo: Repository = app.state.repo
            emails = {}
            with repo.begin() as conn:
                for role, name in (
                    ("developer", "sci-orly"),
                    ("company", "pme-alpha"),
                    ("staff", "eco-gosb"),
                ):
                    emails[role] = f"{name}@exemple.invalid"
                    created = accounts.create_account(
                        conn,
                        name=name,
                        email=emails[role],
                        role=role,
                        password_hash=hash_password(PASSWORD),
                    )
                    if role == "developer":
                        key = issue_key(conn, created.id).key
            yield Site(app, repo, emails, key)


def _form_token(page: Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


def _login(client: TestClient, email: str, password: str = PASSWORD, **headers: str) -> Response:
    token = _form_token(client.get("/login"))
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, headers=headers
    )


def _set_cookie(response: Response, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


def _signed_in(site: Site, role: str = "developer", **kw: Any) -> tuple[TestClient, str]:
    """A client holding a session of ``role``'s account, and the session's CSRF token."""
    client = site.browser(**kw)
    response = _login(client, site.emails[role])
    assert response.status_code == 200, response.text
    return client, response.json()["csrf_token"]


# -- the form ----------------------------------------------------------------------------------


def test_the_form_is_french_first_with_english_on_request(site: Site) -> None:
    client = site.browser()
    french = client.get("/login")
    assert french.status_code == 200
    assert french.headers["content-type"].startswith("text/html")
    assert '<html lang="fr">' in french.text and "Mot de passe" in french.text
    assert '<label for="email">' in french.text and 'id="email"' in french.text
    # The form's CSRF token is bound to a signed cookie, HttpOnly and SameSite=Lax.
    cookie = _set_cookie(french, LOGIN_COOKIE).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    for english in (
        client.get("/login?lang=en"),
        client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}),
    ):
        assert '<html lang="en">' in english.text and "Password" in english.text


# -- signing in --------------------------------------------------------------------------------


def test_signing_in_sets_a_session_cookie_that_authenticates(site: Site) -> None:
    client = site.browser()
    assert client.get("/me").status_code == 401
    response = _login(client, site.emails["developer"].upper())  # e-mails in any case
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["account"]["name"] == "sci-orly" and body["csrf_token"]
    assert "password" not in response.text
    cookie = _set_cookie(response, SESSION_COOKIE)
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/", "max-age=28800"} <= attributes
    assert "secure" not in attributes  # plain HTTP here
    # The login form's cookie is spent.
    assert "max-age=0" in _set_cookie(response, LOGIN_COOKIE).lower()
    me = client.get("/me")
    assert me.status_code == 200 and me.json()["account"]["name"] == "sci-orly"
    assert me.headers["cache-control"] == "no-store"


def test_the_cookie_is_secure_over_https(site: Site) -> None:
    client = site.browser(https=True)
    response = _login(client, site.emails["company"])
    assert response.status_code == 200
    assert "secure" in _set_cookie(response, SESSION_COOKIE).lower().split("; ")
    assert client.get("/me").json()["account"]["name"] == "pme-alpha"


def test_the_cookies_are_secure_behind_an_https_base_url(site: Site) -> None:
    """Behind a proxy that ends TLS the app sees plain HTTP: the base URL tells it."""
    settings = site.app.state.settings
    saved = settings.http.base_url
    settings.http.base_url = "https://implanter.example.org"
    try:
        form = site.browser().get("/login")
    finally:
        settings.http.base_url = saved
    assert "secure" in _set_cookie(form, LOGIN_COOKIE).lower().split("; ")


def test_a_browser_is_redirected_to_a_local_page_only(site: Site) -> None:
    html = {"Accept": "text/html"}
    for target, expected in (("/premises?limit=5", "/premises?limit=5"), ("//evil.example", "/")):
        client = site.browser()
        token = _form_token(client.get("/login"))
        response = client.post(
            "/login",
            data={
                "email": site.emails["staff"],
                "password": PASSWORD,
                "csrf_token": token,
                "next": target,
            },
            headers=html,
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert response.headers["location"] == expected
    # Signed in, the page says who and offers to sign out.
    page = client.get("/login", headers=html)
    assert "eco-gosb" in page.text and 'action="/logout' in page.text


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(site: Site) -> None:
    client = site.browser()
    wrong = _login(client, site.emails["staff"], "not the password")
    unknown = _login(client, "personne@exemple.invalid", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.json()["detail"].startswith("password : e-mail ou mot de passe incorrect")
    assert wrong.json()["title"] == "Authentification requise"
    english = _login(client, "personne@exemple.invalid", "nope", **{"Accept-Language": "en"})
    assert english.json()["detail"].startswith("password: wrong e-mail or password")
    # A browser gets the form again, with the message announced to screen readers.
    page = _login(client, "personne@exemple.invalid", "nope", Accept="text/html")
    assert page.status_code == 401
    assert 'role="alert"' in page.text and "mot de passe incorrect" in page.text


def test_a_disabled_account_cannot_sign_in(site: Site) -> None:
    with site.repo.begin() as conn:
        accounts.create_account(
            conn,
            name="ancien",
            email="ancien@exemple.invalid",
            role="company",
            password_hash=hash_password(PASSWORD),
        )
        accounts.set_disabled(conn, "ancien")
    assert _login(site.browser(), "ancien@exemple.invalid").status_code == 401


def test_the_login_form_is_csrf_protected(site: Site) -> None:
    data = {"email": site.emails["staff"], "password": PASSWORD}
    # No form cookie (a post from another site, or cookies blocked).
    bare = site.browser().post("/login", data={**data, "csrf_token": "x" * 64})
    assert bare.status_code == 403
    assert bare.json()["errors"][0]["field"] == "csrf_token"
    assert "rechargez la page /login" in bare.json()["detail"]
    # The cookie, but a token that is not its own.
    client = site.browser()
    client.get("/login")
    forged = client.post("/login", data={**data, "csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert SESSION_COOKIE not in client.cookies


# -- CSRF on writes made with the session ------------------------------------------------------


def test_a_write_with_the_session_needs_its_csrf_token(site: Site) -> None:
    client, token = _signed_in(site)
    missing = client.post("/premises", json=_sample(title="Sans jeton"))
    assert missing.status_code == 403
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["errors"][0]["field"] == "X-CSRF-Token"
    assert "jeton CSRF manquant" in missing.json()["detail"]
    english = client.post("/premises?lang=en", json=_sample())
    assert "missing CSRF token" in english.json()["detail"]
    wrong = client.post("/premises", json=_sample(), headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403 and "n'est pas celui de votre session" in wrong.json()["detail"]
    # Another session's token is refused too: the token is bound to its session.
    _, other_token = _signed_in(site)
    stolen = client.post("/premises", json=_sample(), headers={"X-CSRF-Token": other_token})
    assert stolen.status_code == 403
    created = client.post(
        "/premises", json=_sample(title="Avec jeton"), headers={"X-CSRF-Token": token}
    )
    assert created.status_code == 201, created.text
    assert created.json()["owner_account"] == "sci-orly"
    listing = created.json()
    patch = client.patch(
        f"/premises/{listing['id']}",
        json={"title": "Modifié"},
        headers={"If-Match": f'"{listing["version"]}"'},
    )
    assert patch.status_code == 403  # PATCH too
    assert site.repo.get_premises(listing["id"]).title == "Avec jeton"
    # Reads need no token.
    assert client.get(f"/premises/{listing['id']}/history").status_code == 200


def test_a_write_with_an_api_key_needs_no_csrf_token(site: Site) -> None:
    client = site.browser()
    response = client.post(
        "/premises", json=_sample(title="Par clé"), headers={"Authorization": f"Bearer {site.key}"}
    )
    assert response.status_code == 201, response.text


# -- ending a session --------------------------------------------------------------------------


def test_logout_ends_the_session_even_for_a_copied_cookie(site: Site) -> None:
    client, token = _signed_in(site, "company")
    copied = client.cookies[SESSION_COOKIE]
    assert client.post("/logout").status_code == 403  # CSRF-protected
    # A form post carries the token as a field.
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 204
    assert "max-age=0" in _set_cookie(response, SESSION_COOKIE).lower()
    assert client.get("/me").status_code == 401
    # The server ended it: the same cookie, replayed, no longer signs anyone in.
    replay = site.browser()
    replay.cookies.set(SESSION_COOKIE, copied)
    me = replay.get("/me")
    assert me.status_code == 401
    assert me.json()["detail"].startswith("Session : votre session a expiré ou a été fermée")
    assert me.headers["www-authenticate"].startswith("Bearer")
    # A stale cookie on a public page is simply anonymous.
    assert replay.get("/premises?limit=1").status_code == 200


def test_disabling_the_account_ends_its_sessions(site: Site) -> None:
    with site.repo.begin() as conn:
        accounts.create_account(
            conn,
            name="a-desactiver",
            email="a-desactiver@exemple.invalid",
            role="developer",
            password_hash=hash_password(PASSWORD),
        )
    client = site.browser()
    assert _login(client, "a-desactiver@exemple.invalid").status_code == 200
    assert client.get("/me").status_code == 200
    with site.repo.begin() as conn:
        accounts.set_disabled(conn, "a-desactiver")
    assert client.get("/me").status_code == 401
    with site.repo.begin() as conn:
        accounts.set_disabled(conn, "a-desactiver", disabled=False)
    # Enabled again, the old session stays ended; a new sign-in works.
    assert client.get("/me").status_code == 401
    assert _login(client, "a-desactiver@exemple.invalid").status_code == 200
    assert client.get("/me").status_code == 200


def test_a_session_expires_after_its_max_age(site: Site) -> None:
    client, _ = _signed_in(site, "staff")
    max_age = site.app.state.settings.auth.session_max_age_seconds
    with site.clock_at(datetime.now(UTC) + timedelta(seconds=max_age + 5)):
        expired = client.get("/me", headers={"Accept-Language": "en"})
    assert expired.status_code == 401
    assert expired.json()["detail"].startswith("Session: your session has expired")
    assert client.get("/me").status_code == 200


def test_a_forged_cookie_signs_no_one_in(site: Site) -> None:
    client, _ = _signed_in(site, "staff")
    value = client.cookies[SESSION_COOKIE]
    forged = site.browser()
    forged.cookies.set(SESSION_COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert forged.get("/me").status_code == 401


# -- the login throttle ------------------------------------------------------------------------


def test_failed_logins_are_slowed_down_exponentially(site: Site) -> None:
    auth = site.app.state.settings.auth
    email = site.emails["developer"]
    client = site.browser()
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with site.clock_at(start) as clock:
        for _ in range(auth.login_max_failures):
            assert _login(client, email, "wrong password").status_code == 401
        # Now even the right password waits: 429, the wait in Retry-After.
        refused = _login(client, email)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == str(auth.login_delay_seconds)
        assert refused.json()["detail"] == (
            f"Trop d'échecs de connexion : réessayez dans {auth.login_delay_seconds} secondes."
        )
        clock[0] = start + timedelta(seconds=auth.login_delay_seconds - 10)
        assert _login(client, email).headers["retry-after"] == "10"
        # Once the wait is over, one more failure doubles it.
        clock[0] = start + timedelta(seconds=auth.login_delay_seconds + 1)
        assert _login(client, email, "wrong again").status_code == 401
        assert _login(client, email).headers["retry-after"] == str(2 * auth.login_delay_seconds)
        clock[0] += timedelta(seconds=2 * auth.login_delay_seconds + 1)
        assert _login(client, email, "and again").status_code == 401
        assert _login(client, email).headers["retry-after"] == str(4 * auth.login_delay_seconds)
        # The wait is tied to the e-mail: from another address too...
        other = site.browser()
        assert _login(other, email).status_code == 429
        # ...and after the wait a success resets the account's counter.
        clock[0] += timedelta(seconds=4 * auth.login_delay_seconds + 1)
        assert _login(client, email).status_code == 200
        client.cookies.clear()  # signed out, from the same address
        assert _login(client, email, "one slip").status_code == 401
        assert _login(client, email).status_code == 200


def test_an_unknown_email_is_slowed_down_the_same_way(site: Site) -> None:
    auth = site.app.state.settings.auth
    client = site.browser()
    with site.clock_at(datetime(2026, 12, 1, 10, 0, tzinfo=UTC)):
        for _ in range(auth.login_max_failures):
            assert _login(client, "inconnu@exemple.invalid", "x").status_code == 401
        refused = _login(client, "inconnu@exemple.invalid", "x", **{"Accept-Language": "en"})
    assert refused.status_code == 429
    assert refused.json()["detail"] == (
        f"Too many failed sign-ins: try again in {auth.login_delay_seconds} seconds."
    )


def test_one_address_trying_many_emails_is_slowed_down(site: Site) -> None:
    auth = site.app.state.settings.auth
    client = site.browser()
    start = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)
    with site.clock_at(start) as clock:
        for i in range(auth.login_max_failures_per_ip):
            assert _login(client, f"essai{i}@exemple.invalid", "x").status_code == 401
        refused = _login(client, site.emails["staff"])
        assert refused.status_code == 429
        # A quiet window later the count starts again.
        clock[0] = start + timedelta(seconds=auth.login_window_seconds + 1)
        assert _login(client, "essai-final@exemple.invalid", "x").status_code == 401
        assert _login(client, site.emails["staff"]).status_code == 200


def test_passwords_and_the_secret_never_reach_the_log(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = site.browser()
    _login(client, site.emails["staff"], "wrong secret password 123")
    _login(client, site.emails["staff"])
    text = caplog.text
    assert "sign-in refused" in text and "signed in" in text
    assert "wrong secret password 123" not in text and PASSWORD not in text
    assert client.cookies[SESSION_COOKIE] not in text
    with site.repo.connect() as conn:
        import sqlalchemy as sa

        secret = conn.execute(sa.text("SELECT value FROM app_secrets")).scalar_one()
    assert secret not in text


# -- the signing secret ------------------------------------------------------------------------


def test_every_worker_shares_the_generated_secret(site: Site) -> None:
    """A second app on the same database (another worker) accepts the first one's cookie."""
    client, _ = _signed_in(site, "staff")
    second = create_app(site.app.state.settings)
    with TestClient(second) as other:
        other.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
        assert other.get("/me").json()["account"]["name"] == "eco-gosb"


def test_a_configured_secret_is_used_instead(site: Site) -> None:
    client, _ = _signed_in(site, "staff")
    settings = site.app.state.settings.model_copy(deep=True)
    settings.auth = AuthSettings(session_secret=SecretStr("s" * 40))
    with TestClient(create_app(settings)) as other:
        other.cookies.set(SESSION_COOKIE, client.cookies[SESSION_COOKIE])
        assert other.get("/me").status_code == 401  # signed with another key


def test_a_short_secret_is_refused() -> None:
    from pydantic import ValidationError

    from api.settings import AuthSettings

    with pytest.raises(ValidationError, match="session_secret: shorter than 32"):
        AuthSettings(session_secret="short")


def test_openapi_documents_the_session_cookie_beside_the_api_key(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["SessionCookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": "implanter_session",
        "description": schemes["SessionCookie"]["description"],
    }
    assert "X-CSRF-Token" in schemes["SessionCookie"]["description"]
    # A route that takes an account accepts either: a key or the web session.
    security = doc["paths"]["/me"]["get"]["security"]
    assert {"HTTPBearer": []} in security and {"SessionCookie": []} in security
    # A route open to anonymous callers says so ({} is "no security").
    assert {} in doc["paths"]["/premises"]["get"]["security"]
    assert {} not in security
