"""The sign-in page in a real headless Chromium: accessible (axe-core), and it signs in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.auth import hash_password
from api.sessions import SESSION_COOKIE
from geodata.storage import Repository, accounts
from tests.api.conftest import serious_violations

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def account(live_server: str, demo_db: Path) -> str:
    """A company account with a password, in the served catalogue; its e-mail."""
    repo = Repository(f"sqlite:///{demo_db}")
    with repo.begin() as conn:
        accounts.create_account(
            conn,
            name="pme-navigateur",
            email="pme-navigateur@exemple.invalid",
            role="company",
            password_hash=hash_password(PASSWORD),
        )
    repo.dispose()
    return "pme-navigateur@exemple.invalid"


def test_the_login_page_passes_axe_in_french_and_english(
    browser: Any, live_server: str, account: str
) -> None:
    # A French browser gets French; ?lang=en switches (so does an English browser, below).
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    for url, heading, label in (
        (live_server + "/login", "Connexion", "Mot de passe"),
        (live_server + "/login?lang=en", "Sign in", "Password"),
    ):
        page.goto(url)
        assert page.locator("h1").inner_text() == heading
        # Each field is named by its label (what a screen reader announces).
        assert page.get_by_label(label).get_attribute("type") == "password"
        assert serious_violations(page) == []
    # The error state too: the message is an alert tied to the fields.
    page.goto(live_server + "/login")
    page.get_by_label("Adresse e-mail").fill(account)
    page.get_by_label("Mot de passe").fill("pas le bon mot de passe")
    page.get_by_role("button", name="Se connecter").click()
    alert = page.get_by_role("alert")
    assert "mot de passe incorrect" in alert.inner_text()
    assert serious_violations(page) == []
    context.close()
    english = browser.new_context(locale="en-GB")
    page = english.new_page()
    page.goto(live_server + "/login")
    assert page.locator("html").get_attribute("lang") == "en"
    english.close()


def test_axe_would_report_a_field_without_a_label(browser: Any, live_server: str) -> None:
    """The check above can fail: an unlabelled field is a serious violation for axe."""
    page = browser.new_page()
    page.goto(live_server + "/login")
    page.evaluate("document.querySelector('label[for=password]').remove()")
    assert any(v.startswith("label ") for v in serious_violations(page))
    page.close()


def test_signing_in_and_out_in_the_browser(browser: Any, live_server: str, account: str) -> None:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(live_server + "/login?lang=en")
    page.get_by_label("E-mail address").fill(account)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(live_server + "/")
    cookie = next(c for c in context.cookies() if c["name"] == SESSION_COOKIE)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    # Scripts cannot read it.
    assert SESSION_COOKIE not in page.evaluate("document.cookie")
    me = page.request.get(live_server + "/me")
    assert me.status == 200 and me.json()["account"]["name"] == "pme-navigateur"
    page.goto(live_server + "/login?lang=en")
    assert "pme-navigateur" in page.locator("#signed-in").inner_text()
    assert serious_violations(page) == []
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/login?lang=en")
    assert page.request.get(live_server + "/me").status == 401
    assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
    context.close()
