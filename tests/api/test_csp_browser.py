"""The Content-Security-Policy keeps the pages working in a real Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.main import create_app
from tests.api.conftest import make_settings
from tests.api.live_uvicorn import serving

pytestmark = pytest.mark.browser


def _violations(browser: Any, url: str) -> tuple[list[str], Any]:
    page = browser.new_page()
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    response = page.goto(url)
    page.wait_for_load_state("load")
    return [m for m in messages if "Content Security Policy" in m], (page, response)


def test_pages_render_under_the_policy(browser: Any, live_server: str) -> None:
    for url in (live_server + "/", live_server + "/?lang=en&offset=50"):
        violations, (page, response) = _violations(browser, url)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert page.locator("h1").inner_text() in ("Catalogue des locaux", "Premises catalogue")
        assert page.locator("#premises tbody tr").count() > 0
        # The inline styles of the page are applied, not blocked.
        header_bg = page.evaluate(
            "getComputedStyle(document.querySelector('header')).backgroundColor"
        )
        assert header_bg == "rgb(18, 54, 90)"
        assert violations == [], violations
        page.close()


def test_a_policy_violation_would_be_seen(browser: Any, demo_db: Path) -> None:
    """The check above can fail: a policy refusing the stylesheet is reported by Chromium."""
    settings = make_settings(demo_db)
    settings.http.content_security_policy = "default-src 'self'; style-src 'none'"
    with serving(create_app(settings)) as url:
        violations, (page, _) = _violations(browser, url + "/")
        page.close()
    assert violations
