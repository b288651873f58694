"""Every HTML page of the app passes axe-core with no serious or critical violation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import serious_violations

pytestmark = pytest.mark.browser

PAGES = [
    "/?lang=fr",
    "/?lang=en&offset=50",
    "/login",
    "/login?lang=en",
    "/conformance?f=html",
    "/collections?f=html",
    "/collections/premises?f=html",
    "/collections/premises/items?f=html&limit=20",
    "/collections/stations/items?f=html&limit=20&lang=en",
    "/collections/communes/items/94065?f=html",
]


@pytest.mark.parametrize("path", PAGES)
def test_page_passes_axe(browser: Any, live_server: str, path: str) -> None:
    page = browser.new_page()
    response = page.goto(live_server + path)
    assert response is not None and response.status == 200, path
    assert response.headers["content-type"].startswith("text/html")
    assert serious_violations(page) == []
    page.close()
