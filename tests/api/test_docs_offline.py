"""The interactive API documentation works on a closed network: every request /docs and
/redoc make stays on the app's origin, and both render the operations."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.browser


def _load(browser: Any, url: str, ready: str) -> tuple[Any, list[str], list[str]]:
    page = browser.new_page()
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.on("requestfailed", lambda req: problems.append(f"failed: {req.url}"))
    page.on("pageerror", lambda exc: problems.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto(url)
    page.wait_for_selector(ready, timeout=30_000)
    return page, requests, problems


def _outside(requests: list[str], base: str) -> list[str]:
    origin = urlsplit(base).netloc
    return [
        u
        for u in requests
        if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != origin
    ]


def test_swagger_ui_renders_without_a_cdn(browser: Any, live_server: str) -> None:
    page, requests, problems = _load(browser, live_server + "/docs", ".opblock")
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any(p.startswith("/premises") for p in paths), paths
    assert "/match" in paths
    assert _outside(requests, live_server) == []
    assert any(u.endswith("/openapi.json") for u in requests)
    assert problems == []
    page.close()


def test_redoc_renders_without_a_cdn(browser: Any, live_server: str) -> None:
    page, requests, problems = _load(browser, live_server + "/redoc", "[data-section-id]")
    assert page.locator("h1").first.inner_text().startswith("Implanter")
    assert page.locator("text=/match").count() > 0
    assert _outside(requests, live_server) == []
    assert problems == []
    page.close()


def test_the_outside_check_would_see_a_cdn() -> None:
    """The assertion above can fail: a CDN address is reported as outside."""
    seen = ["http://127.0.0.1:9/docs", "https://cdn.jsdelivr.net/npm/swagger-ui-dist/x.js"]
    assert _outside(seen, "http://127.0.0.1:9") == [seen[1]]


def test_docs_pages_name_no_cdn(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        response = client.get(path)
        assert response.status_code == 200
        assert "cdn." not in response.text and "https://" not in response.text
        assert "script-src 'self';" in response.headers["content-security-policy"]
    asset = client.get("/static/docs/swagger-ui-bundle.js")
    assert asset.status_code == 200
    assert "javascript" in asset.headers["content-type"]
    assert client.get("/static/app/swagger-init.js").status_code == 200
    redoc = client.get("/static/docs/redoc.standalone.js")
    assert redoc.status_code == 200
    assert b"cdn.redoc.ly" not in redoc.content
